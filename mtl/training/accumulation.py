"""Gradient accumulation for the gradient balancers (``trainer.accumulate_grad_batches``
with manual optimisation): the per-task gradients of several micro-batches are summed,
and the balancer weighs the gradients of the whole accumulated batch, so that k
micro-batches of size B give the update of one batch of size k x B (the Gram matrix of
the sums, not a sum of Gram matrices)."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl.training.gradient_update import GradientUpdate


class GradientAccumulator:
    """Sums parameter-mode task gradients (dense ``(P,)`` rows and sparse embedding
    rows) and the tasks' losses by task name, over the micro-batches of one update.

    Micro-batches may train different tasks (one task per step sampling): a task missing
    from a micro-batch contributes nothing there."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.micro_batches = 0
        self._dense: dict[str, Tensor] = {}  # task -> (P,) summed gradient
        self._rows: dict[str, tuple[Tensor, Tensor]] = {}  # task -> ((U,) ids, (U, D) summed rows)
        self._losses: dict[str, list[Tensor]] = {}
        self._template: GradientUpdate | None = None

    def add(self, tasks: list[str], update: GradientUpdate, losses: Tensor) -> None:
        """One micro-batch: its tasks, their gradients (``update`` from ``parameters_step``,
        losses already divided by the number of micro-batches) and their ``(T,)`` losses."""
        assert update.outputs is None, "parameters mode only (the module refuses representation mode)"
        self.micro_batches += 1
        self._template = self._template or update
        for t, task in enumerate(tasks):
            if update.matrix is not None:
                row = update.matrix[t]
                self._dense[task] = row.clone() if task not in self._dense else self._dense[task] + row
            if update.rows:
                ids, rows = update.rows[t]
                if task in self._rows:
                    ids, rows = _coalesce(torch.cat([self._rows[task][0], ids]), torch.cat([self._rows[task][1], rows]))
                self._rows[task] = (ids, rows)
            self._losses.setdefault(task, []).append(losses[t])

    def take(self) -> tuple[list[str], GradientUpdate, Tensor]:
        """The accumulated tasks, their summed gradients as one update, and each task's
        mean loss over the micro-batches it was in; then starts over."""
        assert self._template is not None, "take() before add()"
        tasks = list(self._losses)
        t = self._template
        matrix = torch.stack([self._dense[task] for task in tasks]) if self._dense else None  # (T, P)
        rows = [self._rows[task] for task in tasks] if self._rows else None
        update = GradientUpdate(t.dense, matrix, t.table, rows)
        losses = torch.stack([torch.stack(self._losses[task]).mean() for task in tasks])  # (T,)
        self.clear()
        return tasks, update, losses


def _coalesce(ids: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Rows with the same token id summed: ``(U,)`` unique ids and ``(U, D)`` rows."""
    unique, inverse = torch.unique(ids, return_inverse=True)
    out = torch.zeros(unique.numel(), rows.shape[-1], dtype=rows.dtype, device=rows.device)
    out.index_add_(0, inverse, rows)
    return unique, out
