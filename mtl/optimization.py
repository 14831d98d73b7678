"""The optimiser and learning-rate schedule the module trains with, both injectable.

By default AdamW over :func:`~mtl.param_groups.param_groups` (no weight decay for biases
and normalisation weights) and a warm-up then decay schedule (:func:`~mtl.schedule.lr_factor`),
stepped every optimiser step. ``model.optimizer`` replaces the optimiser class and
``model.lr_scheduler`` the schedule; the parameter groups (and so ``model.lr``,
``model.weight_decay`` and the transfer learning-rate scales) apply to every optimiser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from mtl.schedule import Schedule, lr_factor

#: builds the optimiser from the parameter groups (LightningCLI's ``OptimizerCallable``)
OptimizerFactory = Callable[[Iterable[Any]], Optimizer]
#: builds a schedule stepped every optimiser step (LightningCLI's ``LRSchedulerCallable``)
SchedulerFactory = Callable[[Optimizer], LRScheduler]


def default_optimizer(groups: list[dict[str, Any]], lr: float, betas: tuple[float, float]) -> Optimizer:
    """AdamW over ``groups`` (each carrying its own ``lr`` and ``weight_decay``)."""
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas))


def warmup_schedule(optimizer: Optimizer, total: int, warmup: float, schedule: Schedule, min_lr_ratio: float) -> LRScheduler:
    """Linear warm-up over ``warmup`` (a fraction of ``total`` steps when below 1, else
    steps), then ``schedule`` decay to ``min_lr_ratio`` at ``total``."""
    steps = int(warmup * total) if warmup < 1 else int(warmup)
    return LambdaLR(optimizer, lambda step: lr_factor(step, total, steps, schedule, min_lr_ratio))


def optimizer_steps(trainer: L.Trainer, accumulate: int = 1) -> int:
    """The optimiser steps of the whole fit: the trainer's estimate, or, when the module
    accumulates ``accumulate`` micro-batches itself (gradient balancers), one step per
    ``accumulate`` batches of every epoch."""
    total = trainer.estimated_stepping_batches
    if accumulate > 1 and trainer.max_epochs not in (None, -1):
        total = min(total, trainer.max_epochs * math.ceil(trainer.num_training_batches / accumulate))
    return max(1, int(total))
