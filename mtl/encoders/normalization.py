"""Normalisation layers that take a padding mask, selectable by name."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

Norm = Literal["layer", "batch", "none"]
NORMS: tuple[str, ...] = get_args(Norm)


class MaskedBatchNorm(nn.Module):
    """Batch normalisation over the real tokens of a padded batch.

    In training, the per-feature mean and (biased) variance are computed over real tokens
    only and the running statistics are updated from them (unbiased variance, as in
    ``nn.BatchNorm1d``); in evaluation the running statistics are used. Padding therefore
    never changes the outputs at real tokens. Padding rows are normalised too, but their
    values carry no meaning.

    Args:
        dim: feature size ``D``.
        eps: added to the variance for numerical stability.
        momentum: weight of the current batch in the running statistics.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Normalise ``x`` ``(B, T, D)`` given ``mask`` ``(B, T)`` bool."""
        if self.training:
            # Statistics in the running buffers' precision (float32 under autocast, whose
            # bfloat16/float16 activations would round them and cannot be lerped into them).
            real = x[mask].to(self.running_mean.dtype)  # (N, D), N = number of real tokens
            n = real.shape[0]
            if n == 0:
                raise ValueError("MaskedBatchNorm: the batch has no real tokens; every row of mask needs a True")
            mean = real.mean(dim=0)  # (D,)
            var = real.var(dim=0, unbiased=False)  # (D,)
            with torch.no_grad():
                unbiased = var * (n / (n - 1)) if n > 1 else var
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias  # (B, T, D)


class MaskedLayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` over the feature axis; accepts (and ignores) the mask, since each
    token is normalised on its own."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # noqa: ARG002
        """Normalise ``x`` ``(B, T, D)``."""
        return super().forward(x)


class NoNorm(nn.Module):
    """Identity with the masked-norm call signature."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # noqa: ARG002
        """Return ``x`` unchanged."""
        return x


def make_norm(kind: str, dim: int) -> nn.Module:
    """Build a normalisation layer with ``forward(x (B, T, D), mask (B, T)) -> (B, T, D)``.

    Args:
        kind: ``layer`` (LayerNorm over D), ``batch`` (masked batch norm) or ``none``.
        dim: feature size ``D``.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    if kind == "layer":
        return MaskedLayerNorm(dim)
    if kind == "batch":
        return MaskedBatchNorm(dim)
    if kind == "none":
        return NoNorm()
    raise ValueError(f"unknown norm {kind!r}; choose one of {list(NORMS)}")
