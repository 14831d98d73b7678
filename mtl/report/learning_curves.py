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


def learning_curves(records: list[RunRecord], path: Path) -> Path | None:
    """One column per task: training loss (top, smoothed) and the primary validation
    metric (bottom) against steps, one line per run; ``None`` when no run logged a curve."""
    curves = {id(r): read_series(r.directory) for r in records}
    tasks = list(dict.fromkeys(t for r in records for t in r.tasks))
    if not tasks or not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(tasks), figsize=(3.2 * len(tasks), 5.2), squeeze=False)
    colours = {row: f"C{i % 10}" for i, row in enumerate(dict.fromkeys(r.row for r in records))}
    for r in records:
        series = curves[id(r)]
        for j, task in enumerate(tasks):
            if task not in r.tasks:
                continue
            metric = (r.metric_order(task) or ["loss"])[0]
            loss = series.get(f"train/{task}/loss_step", [])
            validation = series.get(f"val/{task}/{metric}", [])
            label = f"{r.row} (seed {r.seed})" if j == 0 else None
            if loss:
                axes[0][j].plot(*zip(*smooth(loss, 20)), color=colours[r.row], lw=1, alpha=0.8, label=label)
            if validation:
                axes[1][j].plot(*zip(*validation), color=colours[r.row], marker="o", ms=3, lw=1)
            axes[0][j].set_title(task)
            axes[1][j].set_ylabel(f"val {metric}")
            axes[1][j].set_xlabel("step")
    axes[0][0].set_ylabel("train loss")
    fig.tight_layout()
    fig.legend(
        loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(records)), fontsize=7, frameon=False
    )  # below the axes
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
