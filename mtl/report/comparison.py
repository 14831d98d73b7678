"""Runs side by side: one row per run (or per group of seeds), one column per task metric."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from mtl.report.run_record import RunRecord


def comparison_table(records: list[RunRecord], metrics: str = "all") -> str:
    """A Markdown table, one row per :attr:`RunRecord.row`: runs of one row are its seeds
    and, for a row that gathers single-task runs, its tasks. Each cell is the ``mean ± std``
    over the runs that have that metric; ``average``, ``steps`` and ``minutes`` are taken
    per seed (the seed's runs averaged, summed, summed) and then over seeds.

    Args:
        records: finished runs.
        metrics: ``all`` (every metric, each task's primary first) or ``primary``.
    """
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[record.row].append(record)
    columns: list[tuple[str, str]] = []
    for record in records:
        for task in record.tasks:
            order = record.metric_order(task)
            for metric in order[:1] if metrics == "primary" else order:
                if (task, metric) not in columns:
                    columns.append((task, metric))
    header = ["run", *(f"{task} {metric}" for task, metric in columns), "average", "seeds", "steps", "minutes"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, runs in groups.items():
        cells = [_cell([r.tasks.get(task, {}).get(metric, math.nan) for r in runs]) for task, metric in columns]
        by_seed: dict[object, list[RunRecord]] = defaultdict(list)
        for r in runs:
            by_seed[r.seed].append(r)
        cells.append(_cell([statistics.mean(r.average for r in group) for group in by_seed.values()]))
        seeds = ", ".join(str(seed) for seed in by_seed)
        steps = _cell([float(sum(r.global_step for r in group)) for group in by_seed.values()], digits=0)
        minutes = _cell([sum(r.seconds for r in group) / 60 for group in by_seed.values()], digits=1)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seeds} | {steps} | {minutes} |")
    return "\n".join(lines)


def _cell(values: list[float], digits: int = 4) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}"
    return f"{statistics.mean(finite):.{digits}f} ± {statistics.stdev(finite):.{digits}f}"
