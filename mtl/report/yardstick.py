"""Published numbers beside the report's rows (``mtl report --yardstick FILE``).

The file is YAML::

    source: GLUE paper (Wang et al., 2018), BiLSTM with GloVe inputs, dev sets
    rows:
      GLUE paper multi-task BiLSTM: {cola mcc: 0.186, sst2 accuracy: 0.823, ...}

Each key is ``"<task> <metric>"`` as the results table names its columns, each value on the
scale the runs log (fractions, not percentages).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from mtl.report.run_record import ReportError, RunRecord


@dataclass
class Yardstick:
    """``rows``: label -> ``(task, metric)`` -> published value."""

    source: str
    rows: dict[str, dict[tuple[str, str], float]]

    @classmethod
    def load(cls, path: str | Path) -> Yardstick:
        path = Path(path)
        if not path.is_file():
            raise ReportError(f"--yardstick {path}: no such file")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data.get("rows"), dict) or not data["rows"]:
            raise ReportError(f"--yardstick {path}: needs 'rows: {{label: {{'<task> <metric>': value}}}}'")
        rows = {}
        for label, cells in data["rows"].items():
            parsed = {}
            for key, value in (cells or {}).items():
                parts = str(key).split()
                if len(parts) != 2 or not isinstance(value, (int, float)):
                    raise ReportError(
                        f"--yardstick {path}: row {label!r}, entry {key!r}: {value!r}; write '<task> <metric>: <number>', "
                        "e.g. 'cola mcc: 0.186'"
                    )
                parsed[(parts[0], parts[1])] = float(value)
            rows[str(label)] = parsed
        return cls(str(data.get("source", "")), rows)

    def columns(self) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        for cells in self.rows.values():
            seen += [key for key in cells if key not in seen]
        return seen


def yardstick_table(records: list[RunRecord], yardstick: Yardstick) -> str:
    """A Markdown table on the yardstick's columns: its published rows, then each report
    row (the mean over its runs), then per report row how many of each published row's
    numbers it reaches (``>=`` at the four digits shown). Published numbers of tasks no
    run has are named under the table (a cut-down run, or a misspelt key)."""
    logged = {(t, m) for r in records for t, ms in r.tasks.items() for m in ms}
    columns = [c for c in yardstick.columns() if c in logged]
    missing = [f"{t} {m}" for t, m in yardstick.columns() if (t, m) not in logged]
    if not columns:
        raise ReportError(f"--yardstick: no run logs any of {missing}; the runs log {sorted(f'{t} {m}' for t, m in logged)}")
    ours: dict[str, dict[tuple[str, str], float]] = {}
    for record in records:
        ours.setdefault(record.row, {})
    for row in ours:
        runs = [r for r in records if r.row == row]
        for task, metric in columns:
            values = [r.tasks[task][metric] for r in runs if metric in r.tasks.get(task, {})]
            if values:
                ours[row][(task, metric)] = statistics.mean(values)
    reach_header = [f"reaches {label}" for label in yardstick.rows]
    header = ["row", *(f"{t} {m}" for t, m in columns), *reach_header]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for label, cells in yardstick.rows.items():
        lines.append(
            f"| {label} (published) | " + " | ".join(_fmt(cells.get(c)) for c in columns) + " |" + " |" * len(reach_header)
        )
    for row, cells in ours.items():
        reached = []
        for published in yardstick.rows.values():
            shared = [c for c in published if c in cells]
            reached.append(f"{sum(round(cells[c], 4) >= round(published[c], 4) for c in shared)}/{len(shared)}" if shared else "")
        lines.append(f"| {row} | " + " | ".join(_fmt(cells.get(c)) for c in columns) + " | " + " | ".join(reached) + " |")
    if missing:
        lines += ["", "Published numbers of tasks no run here has: " + ", ".join(missing) + "."]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
