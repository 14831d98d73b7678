"""Plots of how the balancer behaved: task weights over training, gradient conflict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from mtl.run_directory import run_directory


def smoothing_window(steps: int) -> int:
    """Steps averaged by the smoothed lines: a twentieth of the run, 1 to 101."""
    return max(1, min(101, steps // 20))


class BalancerPlots(L.Callback):
    """Records the task weights (every balancer) and the pairwise cosine similarity of
    the task gradients (gradient balancers) at every training step; at the end of fit
    writes into the run directory, and sends to W&B when a W&B logger is attached:

    - ``task_weights.png``: each task's weight over training, smoothed (a centred moving
      average over a twentieth of the run), with the raw
      per-step values faint behind; not drawn when every weight stayed constant (``Sum``,
      static weights, a single task: a flat line says nothing);
    - ``gradient_conflict.png``: the mean cosine of each pair of task gradients on a colour
      scale fitted to the pairs (the diagonal, always 1, left out), and each pair's cosine
      over training beside it.

    Args:
        every_n_steps: record one step in this many.
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        self.every_n_steps = every_n_steps
        self.weights: dict[str, list[tuple[int, float]]] = {}
        self.cosines: dict[tuple[str, str], list[float]] = {}
        self.cosine_steps: dict[tuple[str, str], list[int]] = {}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        for task, weight in pl_module.balancer.last_weights.items():
            self.weights.setdefault(task, []).append((step, weight))
        for pair, cosine in getattr(pl_module, "last_cosines", {}).items():
            self.cosines.setdefault(pair, []).append(cosine)
            self.cosine_steps.setdefault(pair, []).append(step)

    @property
    def weights_vary(self) -> bool:
        """Whether any task's weight changed during training."""
        return any(max(w for _, w in points) - min(w for _, w in points) > 1e-9 for points in self.weights.values())

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.weights_vary and not self.cosines:
            return
        import matplotlib

        matplotlib.use("Agg")
        directory = run_directory(trainer)  # not trainer.log_dir: a collective, and only rank 0 is here
        directory.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        if self.weights_vary:
            written["task_weights"] = self._plot_weights(directory / "task_weights.png", type(pl_module.balancer).__name__)
        if self.cosines:
            written["gradient_conflict"] = self._plot_conflict(directory / "gradient_conflict.png")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                for key, path in written.items():
                    logger.log_image(key=f"plots/{key}", images=[str(path)])

    def _plot_weights(self, path: Path, balancer: str) -> Path:
        import matplotlib.pyplot as plt

        window = smoothing_window(max(len(points) for points in self.weights.values()))
        fig, ax = plt.subplots(figsize=(7, 4))
        for i, (task, points) in enumerate(sorted(self.weights.items())):
            steps, values = zip(*points)
            color = f"C{i % 10}"
            ax.plot(steps, values, color=color, linewidth=0.6, alpha=0.25)  # (S,) raw
            ax.plot(steps, smoothed(list(values), window), color=color, linewidth=1.6, label=task)  # (S,) smoothed
        ax.set(xlabel="step", ylabel="task weight", title=f"Task weights ({balancer}; {window}-step mean, raw faint)")
        return save_with_legend(fig, ax, path, lines=len(self.weights), per_column=6)

    def _plot_conflict(self, path: Path) -> Path:
        import matplotlib.pyplot as plt

        tasks = sorted({t for pair in self.cosines for t in pair})
        index = {t: i for i, t in enumerate(tasks)}
        mean = {pair: sum(values) / len(values) for pair, values in self.cosines.items()}
        scale = max(0.05, max(abs(v) for v in mean.values()))  # the pairs' own range, symmetric about 0
        matrix: list[list[float]] = [[math.nan] * len(tasks) for _ in tasks]  # (K, K), NaN on the diagonal
        for (a, b), value in mean.items():
            matrix[index[a]][index[b]] = matrix[index[b]][index[a]] = value
        side = 0.9 * len(tasks) + 2.5
        fig, (heat, curves) = plt.subplots(1, 2, figsize=(side + 6, max(4.0, side - 0.5)), width_ratios=[side, 6])
        draw_heatmap(fig, heat, matrix, tasks, scale, "Mean cosine of task gradients")
        window = smoothing_window(max(len(values) for values in self.cosines.values()))
        for i, (pair, values) in enumerate(sorted(self.cosines.items())):
            curves.plot(
                self.cosine_steps[pair], smoothed(values, window), color=f"C{i % 10}", linewidth=1.2, label=" ~ ".join(pair)
            )
        curves.axhline(0.0, color="black", linewidth=0.6)
        curves.set(xlabel="step", ylabel="cosine", title=f"Over training ({window}-step mean)")
        return save_with_legend(fig, curves, path, lines=len(self.cosines), per_column=8)


def save_with_legend(fig: Any, ax: Any, path: Path, lines: int, per_column: int) -> Path:
    """A legend naming every line (in columns of ``per_column``), a light grid, and the file."""
    import matplotlib.pyplot as plt

    add_legend(ax, lines, per_column)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def add_legend(ax: Any, lines: int, per_column: int) -> None:
    """A legend naming every one of the ``lines`` lines, in columns of ``per_column``, and a light grid."""
    ax.legend(fontsize="x-small" if lines > per_column else "small", ncol=max(1, math.ceil(lines / per_column)))
    ax.grid(alpha=0.3)


def draw_heatmap(
    fig: Any, ax: Any, matrix: list[list[float]], tasks: list[str], scale: float, title: str, digits: int = 2
) -> None:
    """``matrix`` (``(K, K)``, NaN cells grey) on a red-blue scale from ``-scale`` to
    ``scale`` centred at 0, each cell's value written in it (``digits`` decimals), the
    tasks on both axes."""
    import matplotlib.pyplot as plt

    colormap = plt.get_cmap("RdBu").copy()
    colormap.set_bad("#dddddd")
    image = ax.imshow(matrix, cmap=colormap, vmin=-scale, vmax=scale)
    ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), tasks)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if not math.isnan(value):
                shade = abs(value) / scale  # dark cells get white text
                ax.text(
                    j, i, f"{value:+.{digits}f}", ha="center", va="center", fontsize=8, color="white" if shade > 0.6 else "black"
                )
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def smoothed(values: list[Any], window: int) -> list[float]:
    """Centred moving average of ``values`` over ``window`` steps (fewer at the ends)."""
    half = window // 2
    sums = [0.0]
    for v in values:
        sums.append(sums[-1] + float(v))
    out = []
    for i in range(len(values)):
        lo, hi = max(0, i - half), min(len(values), i + half + 1)
        out.append((sums[hi] - sums[lo]) / (hi - lo))
    return out
