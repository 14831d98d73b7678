"""Markdown reports that compare finished runs: ``mtl report RUN_DIR ... --output reports/x.md``."""

from mtl.report.comparison import comparison_table
from mtl.report.run_record import ReportError, RunRecord

__all__ = ["RunRecord", "ReportError", "comparison_table"]
