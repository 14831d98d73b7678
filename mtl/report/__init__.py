"""Markdown reports that compare finished runs: ``mtl report RUN_DIR ... --output reports/x.md``."""

from mtl.report.run_record import RunRecord, ReportError
from mtl.report.comparison import comparison_table

__all__ = ["RunRecord", "ReportError", "comparison_table"]
