"""The fp16 loss scaler of a trainer, if it has one."""

from __future__ import annotations

import lightning as L
import torch


def loss_scaler(trainer: L.Trainer) -> torch.amp.GradScaler | None:
    """The fp16 loss scaler of ``trainer``'s precision plugin; None at other precisions."""
    return getattr(trainer.precision_plugin, "scaler", None)
