"""What a training step logs: task losses and weights, the total, the alignment penalty,
and the gradients' geometry (norms and pairwise cosines, i.e. gradient conflict)."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import Tensor

from mtl.model import MultiTaskModel


def log_step(
    module: L.LightningModule, batch: dict[str, Any], losses: dict[str, Tensor], weights: dict[str, float], total: Tensor
) -> None:
    """``train/<task>/loss``, ``train/<task>/weight`` and ``train/loss`` (global-batch values)."""
    for task, loss in losses.items():
        size = batch[task]["input_ids"].shape[0] if task in batch else 1  # (accumulated: a task of an earlier micro-batch)
        module.log(f"train/{task}/loss", loss, batch_size=size, on_step=True, on_epoch=True)
    for task, weight in weights.items():
        module.log(f"train/{task}/weight", weight, on_step=True, on_epoch=False)
    module.log("train/loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=1)


def logged_alignment_penalty(module: L.LightningModule, model: MultiTaskModel, encoded: dict[str, Any]) -> Tensor | None:
    """The model's alignment penalty for the step, logged as ``train/alignment``."""
    penalty = model.alignment_penalty(encoded)
    if penalty is not None:
        module.log("train/alignment", penalty.detach(), on_step=True, on_epoch=True, batch_size=1)
    return penalty


def log_gradient_geometry(module: L.LightningModule, tasks: list[str], gram: Tensor) -> dict[tuple[str, str], float]:
    """Per-task gradient norms and pairwise cosine similarities, read off the ``(T, T)``
    Gram matrix and logged; returns the cosines by task pair."""
    norms = gram.diagonal().clamp_min(0).sqrt()  # (T,)
    cosines = gram / (norms[:, None] * norms[None, :]).clamp_min(1e-12)  # (T, T)
    pairs = {(a, b): float(cosines[i, j]) for i, a in enumerate(tasks) for j, b in enumerate(tasks) if i < j}
    for task, norm in zip(tasks, norms.tolist()):
        module.log(f"grad/{task}/norm", norm, on_step=True, on_epoch=False)
    for (a, b), cosine in pairs.items():
        module.log(f"grad/cosine/{a}~{b}", cosine, on_step=True, on_epoch=False)
    return pairs
