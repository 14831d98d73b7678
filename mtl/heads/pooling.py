"""Turning token states into one vector per example (or per sentence pair)."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from mtl.contracts import TaskBatch
from mtl.encoders.output import EncoderOutput

Pooling = Literal["encoder", "mean", "max", "first", "pair"]
_MODES: tuple[str, ...] = get_args(Pooling)


def _masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``hidden`` ``(B, T, D)`` over positions where ``mask`` ``(B, T)`` is True;
    zero for rows with no such position."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    total = (hidden * weights).sum(dim=1)  # (B, D)
    count = weights.sum(dim=1).clamp(min=1.0)  # (B, 1)
    return total / count


class Pooler(nn.Module):
    """Reduces an :class:`EncoderOutput` to one feature vector per example.

    Modes:
        ``"encoder"``: the encoder's own ``pooled`` vector.
        ``"mean"`` / ``"max"``: mean or max over real tokens (padding ignored).
        ``"first"``: the first real token (e.g. ``[CLS]``).
        ``"pair"``: mean of each segment of a sentence pair (``token_type_ids`` 0 and 1,
        real tokens only) into ``u`` and ``v``, then ``[u, v, |u - v|, u * v]``
        (Conneau et al., 2017, InferSent); ``out_dim = 4 * in_dim``.

    Args:
        in_dim: size ``D`` of the encoder's states.
        mode: one of the modes above.
    """

    def __init__(self, in_dim: int, mode: Pooling = "encoder") -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Pooler: unknown pooling mode {mode!r}; choose one of {list(_MODES)}")
        self.in_dim = in_dim
        self.mode = mode
        self.out_dim = 4 * in_dim if mode == "pair" else in_dim

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Pooled features, ``(B, out_dim)``."""
        hidden, mask = encoded.hidden, encoded.mask  # (B, T, D), (B, T)
        if self.mode == "encoder":
            return encoded.pooled  # (B, D)
        if self.mode == "mean":
            return _masked_mean(hidden, mask)  # (B, D)
        if self.mode == "max":
            filled = hidden.masked_fill(~mask.unsqueeze(-1), float("-inf"))  # (B, T, D)
            pooled = filled.amax(dim=1)  # (B, D)
            return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))
        if self.mode == "first":
            first = mask.long().argmax(dim=1)  # (B,) index of the first real token
            return hidden[torch.arange(hidden.size(0), device=hidden.device), first]  # (B, D)
        return self._pair(hidden, mask, batch)

    def _pair(self, hidden: Tensor, mask: Tensor, batch: TaskBatch) -> Tensor:
        if "token_type_ids" not in batch:
            raise KeyError(
                "Pooler(mode='pair'): the batch has no 'token_type_ids'; pair pooling needs "
                "them to tell the two texts apart (0 = first, 1 = second)"
            )
        segment = batch["token_type_ids"]  # (B, T)
        second = mask & (segment == 1)  # (B, T)
        if not torch.compiler.is_exporting() and not bool(second.any()):  # an exported program cannot check data
            raise ValueError(
                "Pooler(mode='pair'): no token in the batch has token_type_ids == 1, so there "
                "is no second text; use pooling 'encoder', 'mean', 'max' or 'first' for "
                "single-text tasks, or give the task a second text column"
            )
        u = _masked_mean(hidden, mask & (segment == 0))  # (B, D)
        v = _masked_mean(hidden, second)  # (B, D)
        return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)  # (B, 4D)
