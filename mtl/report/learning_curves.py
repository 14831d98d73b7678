"""Learning curves of finished runs, read back from each run's ``metrics.csv``: per task,
the training loss and the validation metric over optimiser steps."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from mtl.report.run_record import RunRecord

Series = list[tuple[int, float]]  # (step, value), in logged order


def read_series(directory: Path) -> dict[str, Series]:
    """Every logged column of ``directory/metrics.csv`` as ``(step, value)`` pairs, blank
    cells skipped; empty when the run has no such file (a logger other than CSV)."""
    path = directory / "metrics.csv"
    if not path.is_file():
        return {}
    series: dict[str, Series] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row.get("step") or 0))
            for column, cell in row.items():
                if column in ("epoch", "step") or not cell:
                    continue
                value = float(cell)
                if math.isfinite(value):
                    series.setdefault(column, []).append((step, value))
    return series


def smooth(points: Series, window: int) -> Series:
    """Trailing mean over ``window`` points (the noisy per-step training loss)."""
    out, total = [], 0.0
    for i, (step, value) in enumerate(points):
        total += value - (points[i - window][1] if i >= window else 0.0)
        out.append((step, total / min(i + 1, window)))
    return out


#: Tasks per row of panels: wider reports wrap into a grid.
COLUMNS = 4


def on_run_axis(points: Series, last_step: int) -> list[tuple[float, float]]:
    """``points`` with each step as a share of the run's steps (0 to 1): a single-task
    run of fewer steps and a multi-task run then span the same axis, each point at the
    same share of its run's data."""
    return [(step / max(last_step, 1), value) for step, value in points]


def learning_curves(records: list[RunRecord], path: Path) -> Path | None:
    """Per task a pair of panels, training loss (top, smoothed) and the primary validation
    metric (bottom), one line per run against the share of its run's steps, tasks wrapped
    into rows of at most :data:`COLUMNS`; one legend entry per row and seed. ``None`` when no run logged a curve."""
    curves = {id(r): read_series(r.directory) for r in records}
    tasks = list(dict.fromkeys(t for r in records for t in r.tasks))
    if not tasks or not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = math.ceil(len(tasks) / COLUMNS)
    columns = math.ceil(len(tasks) / rows)  # balanced: 5 tasks as 3 + 2, not 4 + 1
    fig, axes = plt.subplots(2 * rows, columns, figsize=(3.4 * columns, 2.7 * 2 * rows), squeeze=False)
    colours = {row: f"C{i % 10}" for i, row in enumerate(dict.fromkeys(r.row for r in records))}
    styles = ["-", "--", ":", "-."]
    labelled: set[str] = set()  # a row's single-task runs share one entry per seed
    for r in records:
        series = curves[id(r)]
        last = max((step for points in series.values() for step, _ in points), default=0)
        label = f"{r.row} (seed {r.seed})"
        label = None if label in labelled else label
        labelled.add(label)
        for j, task in enumerate(tasks):
            if task not in r.tasks:
                continue
            top, bottom = axes[2 * (j // columns)][j % columns], axes[2 * (j // columns) + 1][j % columns]
            metric = (r.metric_order(task) or ["loss"])[0]
            loss = series.get(f"train/{task}/loss_step", [])
            validation = series.get(f"val/{task}/{metric}", [])
            style = {"color": colours[r.row], "linestyle": styles[(r.seed or 0) % len(styles)], "lw": 1}
            if loss:
                top.plot(*zip(*on_run_axis(smooth(loss, 20), last)), alpha=0.8, label=label, **style)
                label = None  # one legend entry per run
            if validation:
                bottom.plot(*zip(*on_run_axis(validation, last)), marker="o", ms=3, label=label, **style)
                label = None
            top.set_title(task)
            top.set_ylabel("train loss")
            bottom.set_ylabel(f"val {metric}")
            bottom.set_xlabel("share of the run's steps")
    for j in range(len(tasks), rows * columns):  # empty cells of the last row
        axes[2 * (j // columns)][j % columns].axis("off")
        axes[2 * (j // columns) + 1][j % columns].axis("off")
    fig.tight_layout()
    fig.legend(
        loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(records)), fontsize=7, frameon=False
    )  # below the axes
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
