"""DualProj: the mean gradient projected onto the dual cone of the task gradients."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import nonneg_quadratic


class DualProj(GradientBalancer):
    """Dual-cone projection of the mean gradient (torchjd's ``DualProj``, Quinton & Rey,
    "Jacobian Descent for Multi-Objective Optimization", 2024; the projection is Equation
    11 of Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual Learning",
    NeurIPS 2017).

    The update is the vector closest to the mean gradient ``g0 = J^T u`` (``u = 1/T``)
    that conflicts with no task: ``argmin ||d - g0||`` subject to ``g_j . d >= 0`` for
    all ``j``. Its dual gives ``d = J^T (u + lam)`` with ``lam >= 0`` minimising
    ``0.5 lam^T G lam + lam^T G u``, solved exactly by
    :func:`~mtl.balancers.solvers.nonneg_quadratic` (torchjd solves the equivalent
    ``min v^T G v, v >= u`` with quadprog). It is UPGrad's projection applied once, to the
    mean instead of to every task gradient. Unlike torchjd, the Gram matrix is neither
    normalised by its trace nor regularised by ``1e-4``; only the solver's tiny relative
    ridge is added, so the weights solve the problem for the Gram matrix as given.

    ``exact_with_representation`` is False: non-conflict with representation gradients
    does not imply it for the parameter gradients.
    """

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        mean = torch.full((n,), 1.0 / n, dtype=gram.dtype, device=gram.device)  # u
        return mean + nonneg_quadratic(gram, gram @ mean)
