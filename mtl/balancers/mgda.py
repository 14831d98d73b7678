"""MGDA: the minimum-norm point of the convex hull of the task gradients."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import min_norm_simplex


class MGDA(GradientBalancer):
    """Multiple-gradient descent (Sener & Koltun, "Multi-Task Learning as Multi-Objective
    Optimization", NeurIPS 2018).

    The update is the minimum-norm element ``d = sum_t w_t g_t`` of the convex hull of the
    task gradients (``w`` on the simplex); it is a descent direction for every task, or
    zero at a Pareto-stationary point. The paper solves the simplex QP with Frank-Wolfe;
    here Wolfe's exact nearest-point algorithm on the Gram matrix gives the same optimum
    (``d . g_t >= ||d||^2`` for all tasks, equality on the support).

    ``exact_with_representation`` is True: with gradients of the shared representation
    this is MGDA-UB, the paper's own efficient variant, which minimises an upper bound of
    the parameter-space objective (their Theorem 1) and is what the paper trains with.

    Args:
        normalization: how each gradient is scaled before solving, as in the paper's code:
            ``"none"``; ``"l2"``, by its norm; ``"loss"``, by its task's loss;
            ``"loss+"``, by loss times norm. The simplex weights ``v`` found for the
            scaled gradients ``g_t / n_t`` are mapped back to ``w_t = v_t / n_t``, so the
            update is the min-norm point of the *scaled* hull (as LibMTL does; the
            original code instead applied ``v`` to the unscaled losses). With a
            normalisation the weights no longer sum to 1.
    """

    exact_with_representation: ClassVar[bool] = True

    def __init__(self, normalization: Literal["none", "l2", "loss", "loss+"] = "none") -> None:
        super().__init__()
        if normalization not in ("none", "l2", "loss", "loss+"):
            raise ValueError(f"MGDA: normalization must be one of 'none', 'l2', 'loss', 'loss+'; got {normalization!r}")
        self.normalization = normalization

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        scales = self._scales(gram, losses.to(gram))  # (T,) n_t
        v = min_norm_simplex(gram / torch.outer(scales, scales))  # (T,) for g_t / n_t
        return v / scales

    def _scales(self, gram: Tensor, losses: Tensor) -> Tensor:
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,) ||g_t||
        if self.normalization == "none":
            scales = torch.ones_like(norms)
        elif self.normalization == "l2":
            scales = norms
        elif self.normalization == "loss":
            scales = losses.abs()
        else:
            scales = losses.abs() * norms
        # A zero scale (vanished gradient or loss) would divide by zero: leave that task as is.
        return torch.where(scales > 1e-12, scales, torch.ones_like(scales))
