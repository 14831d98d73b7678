"""``mtl report``: compare finished runs in one Markdown report with its figures.

mtl report runs/glue_balancers/*/version_0 --output reports/glue_balancers.md --title "GLUE: balancers"
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Literal

from jsonargparse import ArgumentParser

from mtl.report.document import write_report
from mtl.report.run_record import ReportError, RunRecord, gather_rows
from mtl.report.yardstick import Yardstick

USAGE = "mtl report RUN_DIR [RUN_DIR ...] --output REPORT.md [--title TITLE] [--row LABEL=PATTERN ...] [options]"


def report(
    runs: list[str],
    output: str,
    title: str = "Results",
    stage: Literal["fit", "validate", "test"] = "fit",
    select: Literal["last", "best"] = "last",
    notes: str = "",
    row: list[str] | None = None,
    yardstick: str | None = None,
    run_figures: Literal["all", "first", "none"] = "all",
) -> None:
    """Compare finished runs in one Markdown report with its figures.

    Args:
        runs: run directories (runs/<name>/version_N)
        output: the report's Markdown file; figures go to a folder beside it
        title: the report's title
        stage: whose results-<stage>.json to read
        select: fit stage: each run's final validation (last) or its best one by val/average,
            as early stopping on dev reads it
        notes: a paragraph under the title (budget, caveats)
        row: put the runs whose name matches PATTERN on one row LABEL (e.g. the single-task
            runs), as LABEL=PATTERN; repeatable
        yardstick: published numbers to set beside the rows (a YAML file, see mtl.report.yardstick)
        run_figures: the runs' own figures (task weights, gradient conflict) copied beside the
            report: every run's, the first run's of each row (a grid of seeds), or none
    """
    rows = row or []
    try:
        if select == "best" and stage != "fit":
            raise ReportError(f"--select best reads the validations logged during fit, not --stage {stage}")
        records = [RunRecord.load(directory, stage, select=select) for directory in runs]
        gather_rows(records, rows)
        published = Yardstick.load(yardstick) if yardstick else None
        path = Path(output)
        options = ["--output", output, "--title", title, "--stage", stage, "--select", select]
        options += ["--notes", "..."] if notes else []  # notes are printed below the title
        options += [a for r in rows for a in ("--row", r)] + (["--yardstick", yardstick] if yardstick else [])
        options += ["--run_figures", run_figures] if run_figures != "all" else []
        write_report(records, path, title, "mtl report " + shlex.join([*runs, *options]), notes, published, run_figures)
    except ReportError as error:
        sys.exit(f"error: {error}")
    print(path.read_text())


def add_report_arguments(parser: ArgumentParser) -> None:
    """``report``'s parameters as options, with the run directories positional (a shell
    glob expands to them) and ``--row`` repeatable."""
    parser.add_argument("runs", nargs="+", help="run directories (runs/<name>/version_N)")
    parser.add_function_arguments(report, skip={"runs", "row"})
    parser.add_argument(
        "--row", action="append", default=None, metavar="LABEL=PATTERN",
        help="put the runs whose name matches PATTERN on one row LABEL (e.g. the single-task runs); repeatable",
    )  # fmt: skip
