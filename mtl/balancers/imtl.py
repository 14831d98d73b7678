"""IMTL-G: the update whose projections on all unit task gradients are equal."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class IMTLG(GradientBalancer):
    """Impartial MTL, gradient part (Liu et al., "Towards Impartial Multi-task Learning",
    ICLR 2021).

    Finds ``d = sum_t w_t g_t`` with ``sum_t w_t = 1`` whose projections on the unit task
    gradients ``u_t = g_t / ||g_t||`` are all equal. In closed form, with rows
    ``D_i = g_1 - g_i`` and ``U_i = u_1 - u_i`` (``i >= 2``),
    ``alpha = g_1 U^T (D U^T)^{-1}`` and ``w = [1 - sum(alpha), alpha]``. Every product
    is a Gram entry: with ``M[i, j] = g_i . u_j = G[i, j] / ||g_j||``,
    ``(g_1 U^T)_j = M[1, 1] - M[1, j]`` and
    ``(D U^T)[i, j] = M[1, 1] - M[1, j] - M[i, 1] + M[i, j]``. A singular ``D U^T`` (two
    parallel gradients) is inverted in the least-squares sense (pseudo-inverse); a task
    whose gradient vanished has no unit direction and gets weight 0.

    ``exact_with_representation`` is True: the paper's IMTL-G computes these gradients
    with respect to the shared feature ``z``, not the shared parameters (its Algorithm 1),
    so representation mode is the method as published.
    """

    exact_with_representation: ClassVar[bool] = True

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,) ||g_t||
        # A vanished gradient has no direction u_t: it gets weight 0, the others the method.
        active = torch.nonzero(norms > 1e-12 * float(norms.max())).flatten()
        weights = torch.zeros_like(norms)
        if active.numel() > 0:
            weights[active] = _impartial_weights(gram[active][:, active], norms[active])
        return weights


def _impartial_weights(gram: Tensor, norms: Tensor) -> Tensor:
    """IMTL-G's closed form for gradients with non-zero norms ``norms``."""
    if gram.shape[0] == 1:
        return torch.ones(1, dtype=gram.dtype, device=gram.device)
    m = gram / norms[None, :]  # (T, T) g_i . u_j
    row = m[0, 0] - m[0, 1:]  # (T-1,) g_1 U^T
    du = m[0, 0] - m[0, 1:][None, :] - m[1:, 0][:, None] + m[1:, 1:]  # (T-1, T-1) D U^T
    alpha = row @ torch.linalg.pinv(du, rtol=1e-12)  # (T-1,)
    return torch.cat([(1.0 - alpha.sum()).reshape(1), alpha])
