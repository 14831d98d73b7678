"""``mtl affinity -c CONFIG.yaml [--steps N]``: a short fit of a config with
:class:`mtl.callbacks.TaskAffinity` on, then the mean inter-task affinity matrix, the
gradient cosines at the same steps and the task groupings they suggest, printed; the run
(``runs/<name>/affinity/version_N``, no checkpoints) holds ``affinity.json`` and
``affinity.png``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mtl.callbacks.affinity_plot import decimals
from mtl.task_groups import Grouping

USAGE = "mtl affinity -c CONFIG.yaml [--steps N] [--affinity.every_n_steps K] [--section.key VALUE ...]"
DESCRIPTION = (
    "Measure how a step on one task changes the other tasks' losses (TAG's inter-task affinity) "
    "in a short fit, and suggest task groupings."
)
STEPS_HELP = "training steps of the short fit (in place of trainer.max_steps and max_epochs)"
#: The run's folder under the config's run name: apart from its trained runs.
RUN_SUFFIX = "affinity"


def affinity_text(summary: dict[str, Any], directory: Path) -> str:
    """The matrices and groupings of :meth:`TaskAffinity.summary`, as printed."""
    steps = summary["steps"]
    if not steps:
        return (
            "no step was measured: train for more steps (--steps) than --affinity.every_n_steps, "
            "past a warm-up's zero learning rate"
        )
    lines = [
        f"task affinity over {len(steps)} measured steps ({steps[0]}..{steps[-1]}): "
        "row i, column j = 1 - L_j(after a step on i) / L_j(before); > 0: a step on i helps j",
        *_matrix(summary["tasks"], summary["affinity"], decimals(_largest(summary["affinity"]))),
        "",
        "cosine of the task gradients at the same steps:",
        *_matrix(summary["tasks"], summary["cosine"], 2),
        "",
        "suggested groupings (TAG: mean affinity onto each task from its groupmates, summed):",
        *(f"  {len(g['groups'])} group{'s' if len(g['groups']) > 1 else ''}: {_described(g)}" for g in summary["groupings"]),
        "",
        f"written: {directory / 'affinity.json'}, {directory / 'affinity.png'}",
    ]
    return "\n".join(lines)


def _matrix(tasks: list[str], rows: list[list[float | None]], digits: int) -> list[str]:
    width = max(digits + 4, *(len(t) for t in tasks))
    first = max(len(t) for t in tasks)
    cell = [" " * (first + 2) + " ".join(t.rjust(width) for t in tasks)]
    for task, row in zip(tasks, rows):
        values = ("-" if v is None else f"{v:+.{digits}f}" for v in row)
        cell.append(f"  {task.ljust(first)} " + " ".join(v.rjust(width) for v in values))
    return cell


def _largest(rows: list[list[float | None]]) -> float:
    return max((abs(v) for row in rows for v in row if v is not None and not math.isnan(v)), default=1.0)


def _described(grouping: dict[str, Any]) -> str:
    """A grouping of ``affinity.json``, as :meth:`Grouping.describe` says it."""
    return Grouping(tuple(tuple(g) for g in grouping["groups"]), grouping["score"], grouping["exhaustive"]).describe()
