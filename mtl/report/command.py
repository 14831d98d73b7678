"""``mtl report``: compare finished runs in one Markdown report with its figures.

    mtl report runs/glue_balancers/*/version_0 --output reports/glue_balancers.md --title "GLUE: balancers"
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from mtl.report.document import write_report
from mtl.report.run_record import ReportError, RunRecord, gather_rows
from mtl.report.yardstick import Yardstick


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="mtl report", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories (runs/<name>/version_N)")
    parser.add_argument("--output", required=True, help="the report's Markdown file; figures go to a folder beside it")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--stage", default="fit", choices=["fit", "validate", "test"], help="whose results-<stage>.json to read")
    parser.add_argument(
        "--select", default="last", choices=["last", "best"],
        help="fit stage: each run's final validation (last) or its best one by val/average, as early stopping on dev reads it",
    )  # fmt: skip
    parser.add_argument("--notes", default="", help="a paragraph under the title (budget, caveats)")
    parser.add_argument(
        "--row",
        action="append",
        default=[],
        metavar="LABEL=PATTERN",
        help="put the runs whose name matches PATTERN on one row LABEL (e.g. the single-task runs); repeatable",
    )
    parser.add_argument(
        "--yardstick",
        metavar="FILE",
        help="published numbers to set beside the rows (YAML, see mtl.report.yardstick)",
    )
    options = parser.parse_args(args)
    try:
        if options.select == "best" and options.stage != "fit":
            raise ReportError(f"--select best reads the validations logged during fit, not --stage {options.stage}")
        records = [RunRecord.load(directory, options.stage, select=options.select) for directory in options.runs]
        gather_rows(records, options.row)
        yardstick = Yardstick.load(options.yardstick) if options.yardstick else None
        output = Path(options.output)
        shown = [("..." if previous == "--notes" else arg) for previous, arg in zip([None, *args], args)]  # notes are printed below the title
        write_report(records, output, options.title, "mtl report " + shlex.join(shown), options.notes, yardstick)
    except ReportError as error:
        sys.exit(f"error: {error}")
    print(output.read_text())
