"""Runs side by side: one row per run (or per group of seeds), one column per task metric."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mtl.report.run_record import RunRecord


@dataclass
class RowValues:
    """The numbers of one report row: per ``(task, metric)`` the value of each run that logs
    it (NaN where that run diverged); per seed the runs' mean ``average``, summed steps and summed minutes."""

    name: str
    metrics: dict[tuple[str, str], list[float]]
    seeds: list[object]
    average: list[float]
    steps: list[float]
    minutes: list[float]


def metric_columns(records: list[RunRecord], metrics: str = "all") -> list[tuple[str, str]]:
    """``(task, metric)`` columns in the order runs name them, each task's primary first
    (``metrics="primary"``: only those)."""
    columns: list[tuple[str, str]] = []
    for record in records:
        for task in record.tasks:
            order = record.metric_order(task)
            for metric in order[:1] if metrics == "primary" else order:
                if (task, metric) not in columns:
                    columns.append((task, metric))
    return columns


def row_values(records: list[RunRecord], columns: list[tuple[str, str]]) -> list[RowValues]:
    """One :class:`RowValues` per :attr:`RunRecord.row`, in the order rows first appear:
    runs of one row are its seeds and, for a row that gathers single-task runs, its tasks."""
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[record.row].append(record)
    rows = []
    for name, runs in groups.items():
        by_seed: dict[object, list[RunRecord]] = defaultdict(list)
        for r in runs:
            by_seed[r.seed].append(r)
        rows.append(
            RowValues(
                name=name,
                metrics={(t, m): [r.tasks[t][m] for r in runs if m in r.tasks.get(t, {})] for t, m in columns},
                seeds=list(by_seed),
                average=[statistics.mean(r.average for r in group) for group in by_seed.values()],
                steps=[float(sum(r.global_step for r in group)) for group in by_seed.values()],
                minutes=[sum(r.seconds for r in group) / 60 for group in by_seed.values()],
            )
        )
    return rows


def comparison_table(records: list[RunRecord], metrics: str = "all") -> str:
    """A Markdown table, one row per :attr:`RunRecord.row` (see :func:`row_values`). Each
    cell is the ``mean ± std`` over the runs that have that metric; ``average``, ``steps``
    and ``minutes`` are taken per seed (the seed's runs averaged, summed, summed) and then
    over seeds.

    Args:
        records: finished runs.
        metrics: ``all`` (every metric, each task's primary first) or ``primary``.
    """
    columns = metric_columns(records, metrics)
    header = ["run", *(f"{task} {metric}" for task, metric in columns), "average", "seeds", "steps", "minutes"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in row_values(records, columns):
        cells = [mean_and_spread(row.metrics[column]) for column in columns] + [mean_and_spread(row.average)]
        seeds = ", ".join(str(seed) for seed in row.seeds)
        lines.append(
            f"| {row.name} | "
            + " | ".join(cells)
            + f" | {seeds} | {mean_and_spread(row.steps, digits=0)} | {mean_and_spread(row.minutes, digits=1)} |"
        )
    return "\n".join(lines)


def comparison_data(records: list[RunRecord]) -> list[dict[str, Any]]:
    """The table's rows as plain data (the report's JSON): per row and ``"task metric"``
    the mean, standard deviation and every run's value (null for NaN)."""
    columns = metric_columns(records)
    return [
        {
            "row": row.name,
            "metrics": {f"{t} {m}": _summary(row.metrics[(t, m)]) for t, m in columns if row.metrics[(t, m)]},
            "average": _summary(row.average),
            "seeds": row.seeds,
            "steps": _summary(row.steps),
            "minutes": _summary(row.minutes),
        }
        for row in row_values(records, columns)
    ]


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _summary(values: list[float]) -> dict[str, Any]:
    finite = _finite(values)
    return {
        "mean": statistics.mean(finite) if finite else None,
        "std": statistics.stdev(finite) if len(finite) > 1 else None,
        "values": [v if math.isfinite(v) else None for v in values],
    }


def mean_and_spread(values: list[float], digits: int = 4) -> str:
    """A report cell: the mean ± standard deviation of the finite values (one value alone;
    none: empty)."""
    finite = _finite(values)
    if not finite:
        return ""
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}"
    return f"{statistics.mean(finite):.{digits}f} ± {statistics.stdev(finite):.{digits}f}"
