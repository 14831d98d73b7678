"""The interface of loss weighting methods."""

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

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: dict[str, float] = {}

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        """Args: ``losses``, task name to scalar loss. Returns the scalar to minimise."""
        raise NotImplementedError

    def setup_tasks(self, names: list[str]) -> None:
        """Called once with every task name, before the optimiser is built (create
        per-task parameters here)."""

    def epoch_end(self) -> None:
        """Called at the end of every training epoch."""

    def _weighted_sum(self, losses: dict[str, Tensor], weights: dict[str, Tensor | float]) -> Tensor:
        self.last_weights = {name: float(weights[name]) for name in losses}
        return torch.stack([losses[name] * weights[name] for name in losses]).sum()
