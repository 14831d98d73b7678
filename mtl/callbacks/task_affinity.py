"""Lookahead inter-task affinity (Fifty et al., "Efficiently Identifying Task Groupings
in Multi-Task Networks", NeurIPS 2021, TAG), measured during training.

At a step with shared parameters ``theta``, for each task ``i``:
``theta_i' = theta - lr * grad_theta L_i`` (the shared parameters only; the heads stay),
and the affinity of ``i`` onto ``j`` is ``Z[i->j] = 1 - L_j(theta_i') / L_j(theta)``, on
task ``j``'s batch: positive when a step on ``i`` lowers ``j``'s loss, negative when it
raises it. Beside it, the cosine of the two task gradients at the same step: to first
order ``Z[i->j] ~ lr * g_i . g_j / L_j``, so the two agree in sign while steps are small.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn

from mtl.run_directory import run_directory
from mtl.task_groups import best_groupings
from mtl.training.random_state import random_state, restore_random_state

AFFINITY_JSON = "affinity.json"
AFFINITY_PNG = "affinity.png"


def lookahead_affinity(
    losses_of: Callable[[], dict[str, Tensor]], shared: list[nn.Parameter], lrs: list[float]
) -> tuple[list[str], Tensor, Tensor]:
    """Affinity and gradient cosine of every pair of tasks at the current parameters.

    Args:
        losses_of: computes every task's loss (on its own batch) at the current parameters.
        shared: the shared parameters: each task's lookahead step moves these only.
        lrs: each shared parameter's learning rate.

    Returns:
        The tasks (in ``losses_of``'s order), the ``(T, T)`` affinity ``Z[i, j]`` of task
        ``i`` onto task ``j`` and the ``(T, T)`` cosines of the task gradients, float64.
        The parameters are put back bit for bit.
    """
    losses = losses_of()
    tasks = list(losses)
    base = torch.stack([losses[t].detach() for t in tasks]).double()  # (T,)
    grads = [
        torch.autograd.grad(losses[t], shared, retain_graph=i < len(tasks) - 1, allow_unused=True) for i, t in enumerate(tasks)
    ]
    saved = [p.detach().clone() for p in shared]
    after = torch.empty(len(tasks), len(tasks), dtype=torch.float64)  # (T, T): L_j(theta_i')
    try:
        with torch.no_grad():
            for i, task_grads in enumerate(grads):
                for p, g, lr in zip(shared, task_grads, lrs):
                    if g is not None:
                        p.add_(g, alpha=-lr)
                stepped = losses_of()
                after[i] = torch.stack([stepped[t].detach() for t in tasks]).double().cpu()
                for p, s in zip(shared, saved):
                    p.copy_(s)
    finally:
        with torch.no_grad():
            for p, s in zip(shared, saved):
                p.copy_(s)
    base = base.cpu()
    affinity = torch.where(base > 0, 1 - after / base.clamp_min(1e-30), torch.zeros_like(after))  # (T, T)
    flat = torch.stack([  # (T, P)
        torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).double() for g, p in zip(task_grads, shared)])
        for task_grads in grads
    ]).cpu()  # fmt: skip
    norms = flat.norm(dim=1)  # (T,)
    cosine = (flat @ flat.T) / (norms[:, None] * norms[None, :]).clamp_min(1e-30)  # (T, T)
    return tasks, affinity, cosine


class TaskAffinity(L.Callback):
    """Measures the lookahead inter-task affinity every ``every_n_steps`` training steps
    (see the module's docstring), logs ``affinity/<i>-><j>`` and ``affinity/cosine/<a>~<b>``,
    and at the end of fit writes into the run directory ``affinity.json`` (the ``T x T``
    mean matrices of affinity and gradient cosine, one pair per validation interval, every
    measurement, and the task groupings they suggest, see :mod:`mtl.task_groups`) and
    ``affinity.png``.

    The measurement reuses the step's task batches; a task not in the step (one task per
    step under proportional sampling) is measured on its latest batch. Its losses are
    computed with dropout off and under ``torch.no_grad`` after the task gradients; the
    random state and the parameters are put back, so training goes on as without it.
    Enable it in any fit with ``--trainer.callbacks+=mtl.callbacks.TaskAffinity``, or run
    ``mtl affinity -c CONFIG.yaml``.

    Args:
        every_n_steps: measure at one step in this many.
        lr: the lookahead's learning rate; the optimiser's current one (per parameter
            group) by default, in which case steps with a zero learning rate (the start of
            a warm-up) are not measured.
    """

    def __init__(self, every_n_steps: int = 10, lr: float | None = None) -> None:
        if every_n_steps < 1:
            raise ValueError(f"TaskAffinity: every_n_steps must be at least 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.lr = lr
        self.tasks: list[str] = []
        #: per measurement: step, validation interval, the tasks measured, their (T, T) affinity and cosine
        self.measurements: list[dict[str, Any]] = []
        self.interval_ends: list[int] = []  # the step of each validation during fit
        self._latest: dict[str, tuple[int, dict[str, Any]]] = {}  # task -> (batch number, its step's batches)
        self._batches = 0
        self._measured_step = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.tasks = list(pl_module.heads)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self._batches += 1
        for task in batch:
            self._latest[task] = (self._batches, batch)
        step = trainer.global_step
        if step % self.every_n_steps or step == self._measured_step:  # once per step, micro-batches or not
            return
        shared = _shared_parameters(pl_module)
        lrs = self._learning_rates(trainer, shared)
        if not shared or (self.lr is None and not any(lrs)):
            return
        self._measured_step = step
        origins: dict[int, dict[str, Any]] = {}  # tasks of one step's batch are computed together (input groups)
        for task in self.tasks:
            if task in self._latest:
                index, step_batch = self._latest[task]
                origins.setdefault(index, {})[task] = step_batch[task]
        model = pl_module.model
        modes = {module: module.training for module in model.modules()}
        state = random_state()
        model.eval()
        try:
            with torch.enable_grad(), trainer.precision_plugin.forward_context():
                tasks, affinity, cosine = lookahead_affinity(lambda: _losses(model, origins), shared, lrs)
        finally:
            for module, training in modes.items():
                module.train(training)
            restore_random_state(state)
        self._record(trainer, step, tasks, affinity, cosine)

    def _record(self, trainer: L.Trainer, step: int, tasks: list[str], affinity: Tensor, cosine: Tensor) -> None:
        self.measurements.append({
            "step": step,
            "interval": len(self.interval_ends),
            "tasks": tasks,
            "affinity": affinity.tolist(),  # (T', T'): the tasks measured
            "cosine": cosine.tolist(),  # (T', T')
        })  # fmt: skip
        metrics = {f"affinity/{a}->{b}": float(affinity[i, j]) for i, a in enumerate(tasks) for j, b in enumerate(tasks)}
        metrics |= {
            f"affinity/cosine/{a}~{b}": float(cosine[i, j]) for i, a in enumerate(tasks) for j, b in enumerate(tasks) if i < j
        }
        for logger in trainer.loggers:  # every measurement, whatever log_every_n_steps (rank zero's loggers write)
            logger.log_metrics(metrics, step=step)

    def _learning_rates(self, trainer: L.Trainer, shared: list[nn.Parameter]) -> list[float]:
        if self.lr is not None:
            return [self.lr] * len(shared)
        lr_of = {
            id(p): group["lr"] for optimizer in trainer.optimizers for group in optimizer.param_groups for p in group["params"]
        }
        return [float(lr_of.get(id(p), 0.0)) for p in shared]

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self.interval_ends.append(trainer.global_step)

    def summary(self) -> dict[str, Any]:
        """What ``affinity.json`` holds: the mean matrices over all measurements and per
        validation interval (``None`` where a pair was never measured), the suggested
        groupings, and every measurement."""
        mean_affinity = self._mean_matrix(self.measurements, "affinity")
        intervals = []
        for index in sorted({m["interval"] for m in self.measurements}):
            chosen = [m for m in self.measurements if m["interval"] == index]
            intervals.append({
                "until_step": self.interval_ends[index] if index < len(self.interval_ends) else chosen[-1]["step"],
                "steps": [m["step"] for m in chosen],
                "affinity": self._mean_matrix(chosen, "affinity"),
                "cosine": self._mean_matrix(chosen, "cosine"),
            })  # fmt: skip
        measured = [t for i, t in enumerate(self.tasks) if mean_affinity[i][i] is not None]
        rows = [[mean_affinity[self.tasks.index(a)][self.tasks.index(b)] for b in measured] for a in measured]
        return {
            "tasks": self.tasks,
            "meaning": "affinity[i][j] = 1 - L_j(after a step on task i) / L_j(before), mean over the measured steps",
            "every_n_steps": self.every_n_steps,
            "lr": self.lr if self.lr is not None else "the optimiser's",
            "steps": [m["step"] for m in self.measurements],
            "affinity": mean_affinity,
            "cosine": self._mean_matrix(self.measurements, "cosine"),
            "intervals": intervals,
            "groupings": [
                {"groups": [list(g) for g in found.groups], "score": found.score, "exhaustive": found.exhaustive}
                for found in best_groupings(measured, rows)
            ],
            "measurements": self.measurements,
        }

    def _mean_matrix(self, measurements: list[dict[str, Any]], key: str) -> list[list[float | None]]:
        """``(T, T)`` mean of each pair's ``key`` over the measurements of both tasks."""
        matrix: list[list[float | None]] = []
        for a in self.tasks:
            row: list[float | None] = []
            for b in self.tasks:
                values = [m[key][m["tasks"].index(a)][m["tasks"].index(b)] for m in measurements if {a, b} <= set(m["tasks"])]
                row.append(sum(values) / len(values) if values else None)
            matrix.append(row)
        return matrix

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.measurements:
            return
        from mtl.callbacks.affinity_plot import plot_affinity

        directory = run_directory(trainer)  # not trainer.log_dir: a collective, and only rank 0 is here
        directory.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        (directory / AFFINITY_JSON).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        plot_affinity(directory / AFFINITY_PNG, summary)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="plots/affinity", images=[str(directory / AFFINITY_PNG)])


def _shared_parameters(pl_module: L.LightningModule) -> list[nn.Parameter]:
    """The trainable encoder parameters (one encoder, or one per task under soft sharing)."""
    found: dict[int, nn.Parameter] = {}
    for encoder in pl_module.task_encoders.values():
        for p in encoder.parameters():
            if p.requires_grad:
                found.setdefault(id(p), p)
    return list(found.values())


def _losses(model: Any, origins: dict[int, dict[str, Any]]) -> dict[str, Tensor]:
    """Every task's loss; the tasks of one step's batch in one call (they may share an
    encoder pass), batches of different steps apart."""
    losses: dict[str, Tensor] = {}
    for batches in origins.values():
        losses |= model.task_losses(batches)[0]
    return losses
