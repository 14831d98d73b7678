"""Plots of how the balancer behaved: task weights over training, gradient conflict."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from mtl.run_directory import run_directory


class BalancerPlots(L.Callback):
    """Records the task weights (every balancer) and the pairwise cosine similarity of
    the task gradients (gradient balancers) at every training step; at the end of fit
    writes ``task_weights.png`` and ``gradient_conflict.png`` into the run directory
    and sends them to W&B when a W&B logger is attached.

    Args:
        every_n_steps: record one step in this many.
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        self.every_n_steps = every_n_steps
        self.steps: list[int] = []
        self.weights: dict[str, list[tuple[int, float]]] = {}
        self.cosines: dict[tuple[str, str], list[float]] = {}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        for task, weight in pl_module.balancer.last_weights.items():
            self.weights.setdefault(task, []).append((step, weight))
        for pair, cosine in getattr(pl_module, "last_cosines", {}).items():
            self.cosines.setdefault(pair, []).append(cosine)

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.weights:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        directory = run_directory(trainer)  # not trainer.log_dir: a collective, and only rank 0 is here
        directory.mkdir(parents=True, exist_ok=True)
        written = {}

        fig, ax = plt.subplots(figsize=(7, 4))
        for task, points in sorted(self.weights.items()):
            xs, ys = zip(*points)
            ax.plot(xs, ys, label=task, linewidth=1)
        ax.set(xlabel="step", ylabel="task weight", title=f"Task weights ({type(pl_module.balancer).__name__})")
        ax.legend(fontsize="small")
        fig.tight_layout()
        written["task_weights"] = directory / "task_weights.png"
        fig.savefig(written["task_weights"], dpi=120)
        plt.close(fig)

        if self.cosines:
            tasks = sorted({t for pair in self.cosines for t in pair})
            index = {t: i for i, t in enumerate(tasks)}
            matrix = [[1.0] * len(tasks) for _ in tasks]
            for (a, b), values in self.cosines.items():
                matrix[index[a]][index[b]] = matrix[index[b]][index[a]] = sum(values) / len(values)
            fig, ax = plt.subplots(figsize=(1.2 * len(tasks) + 2, 1.2 * len(tasks) + 1))
            image = ax.imshow(matrix, cmap="RdBu", vmin=-1, vmax=1)
            ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right")
            ax.set_yticks(range(len(tasks)), tasks)
            for i in range(len(tasks)):
                for j in range(len(tasks)):
                    ax.text(j, i, f"{matrix[i][j]:.2f}", ha="center", va="center", fontsize=8)
            ax.set_title("Mean cosine similarity of task gradients")
            fig.colorbar(image, ax=ax)
            fig.tight_layout()
            written["gradient_conflict"] = directory / "gradient_conflict.png"
            fig.savefig(written["gradient_conflict"], dpi=120)
            plt.close(fig)

        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                for key, path in written.items():
                    logger.log_image(key=f"plots/{key}", images=[str(path)])
