"""FairGrad: alpha-fair allocation of the update's improvement among the tasks."""

from __future__ import annotations

from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import alpha_fair_weights


class FairGrad(GradientBalancer):
    """FairGrad (Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024).

    Treats each task's first-order improvement ``g_t . d`` as its share of a resource and
    chooses ``d = sum_t w_t g_t`` maximising the alpha-fair utility
    ``sum_t (g_t . d)^(1 - alpha) / (1 - alpha)`` (``log`` for ``alpha = 1``) in the unit
    ball. Its optimality condition, up to the scale of ``d``, is
    ``(G w)_t = w_t^(-1/alpha)`` with ``w > 0``: ``alpha = 1`` is proportional fairness
    (Nash-MTL's ``G w = 1 / w``), ``alpha -> 0`` utilitarian (the sum of improvements) and
    ``alpha -> inf`` max-min fairness.

    The official code (and LibMTL) solve the equation with ``scipy.optimize.least_squares``
    from ``w = 1/T``; here it is solved exactly by Newton's method on the strictly convex
    function whose stationarity condition it is
    (:func:`~mtl.balancers.solvers.alpha_fair_weights`, on ``G / s + 1e-8 I`` with ``s``
    the mean squared gradient norm, mapped back). A task whose gradient vanished gets
    weight 0 (no ``w`` satisfies its equation).

    ``exact_with_representation`` is False: the utilities are of parameter updates;
    LibMTL refuses representation gradients for FairGrad.

    Args:
        alpha: the fairness exponent (> 0); 1 in the paper's main experiments.
        max_iter: cap on the Newton iterations of one solve.
    """

    def __init__(self, alpha: float = 1.0, max_iter: int = 50) -> None:
        super().__init__()
        if alpha <= 0 or max_iter < 1:
            raise ValueError(f"FairGrad: alpha must be > 0 and max_iter >= 1; got {alpha}, {max_iter}")
        self.alpha = float(alpha)
        self.max_iter = max_iter

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        return alpha_fair_weights(gram, self.alpha, self.max_iter)
