"""The interface of loss weighting rules (:class:`Weighting`): one loss from the task losses.

Rules never call a collective: what they need from other processes (the global batch's
losses, epoch sums) the training step hands them already reduced."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn


class Weighting(nn.Module):
    """Combines the task losses of one step into the loss to back-propagate.

    An ``nn.Module``, so learned weights are parameters (they reach the optimiser) and
    running statistics are buffers (they reach the checkpoint).
    """

    #: True for methods that need per-task gradients (the module then optimises manually).
    needs_task_gradients: ClassVar[bool] = False
    #: True for rules whose weights come from the global batch's losses: the training step
    #: then passes them, averaged over processes and detached, as ``global_losses``.
    needs_global_losses: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: dict[str, float] = {}

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        """Args: ``losses``, task name to scalar loss. Returns the scalar to minimise.

        A rule with ``needs_global_losses`` takes a second argument, ``global_losses``:
        the same losses averaged over processes, detached (None: one process, so the
        losses themselves)."""
        raise NotImplementedError

    def setup_tasks(self, names: list[str]) -> None:
        """Called once with every task name, before the optimiser is built (create
        per-task parameters here)."""

    def epoch_sums(self) -> dict[str, dict[str, float]]:
        """This process's running sums of the epoch, by name and task. Declared state with
        its reduction: the training step adds them up over processes (which may have seen
        different tasks) and hands the totals to :meth:`epoch_end`. None by default."""
        return {}

    def epoch_end(self, sums: dict[str, dict[str, float]] | None = None) -> None:
        """Called at the end of every training epoch with :meth:`epoch_sums` added up
        over processes (None: this process's own, as in one process)."""

    def _weighted_sum(self, losses: dict[str, Tensor], weights: dict[str, Tensor | float]) -> Tensor:
        self.last_weights = {name: float(weights[name]) for name in losses}
        return torch.stack([losses[name] * weights[name] for name in losses]).sum()
