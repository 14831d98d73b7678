"""UPGrad: average the projections of the task gradients onto their dual cone."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import nonneg_quadratic


class UPGrad(GradientBalancer):
    """Unconflicting projection of gradients (Quinton & Rey, "Jacobian Descent for
    Multi-Objective Optimization", 2024; torchjd's ``UPGrad``).

    Each ``g_i`` is projected onto the dual cone of the task gradients,
    ``{v : g_j . v >= 0 for all j}``, and the projections are averaged, so the update
    conflicts with no task (``d . g_j >= 0``). The projection is ``g_i + J^T lam`` with
    ``lam >= 0`` minimising ``||J^T lam + g_i||^2``, i.e.
    ``min_{lam >= 0} 0.5 lam^T G lam + lam^T G e_i`` (its dual), solved exactly by
    :func:`~mtl.balancers.solvers.nonneg_quadratic`. The weights are the mean of the
    ``e_i + lam_i``. Unlike torchjd, the Gram matrix is not regularised by ``1e-4``; only
    the solver's tiny relative ridge is added.

    ``exact_with_representation`` is False: non-conflict (``d . g_j >= 0``) with
    representation gradients does not imply it for the parameter gradients.

    Args:
        pref: how the projections are combined; ``"mean"`` (torchjd's default
            preference vector) is the only choice.
    """

    def __init__(self, pref: Literal["mean"] = "mean") -> None:
        super().__init__()
        if pref != "mean":
            raise ValueError(f"UPGrad: pref must be 'mean'; got {pref!r}")
        self.pref = pref

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        return self.projections(gram).mean(0)

    @staticmethod
    def projections(gram: Tensor) -> Tensor:
        """``(T, T)``: row ``i`` holds the weights of ``g_i``'s projection on the dual cone."""
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
        return torch.stack([eye[i] + nonneg_quadratic(gram, gram[:, i]) for i in range(n)])
