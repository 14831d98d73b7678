"""Nash-MTL: the Nash bargaining solution of the tasks over the update direction."""

from __future__ import annotations

from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import alpha_fair_weights


class NashMTL(GradientBalancer):
    """Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022).

    The bargaining solution is, up to scale, ``d = sum_t alpha_t g_t`` with ``alpha > 0``
    solving ``G alpha = 1 / alpha`` (elementwise), i.e. every task gets
    ``alpha_t (d . g_t) = 1``. The paper approximates it with a sequence of convex
    programs in cvxpy. Here the equation is solved directly: it is the stationarity
    condition of the strictly convex barrier function

        ``f(alpha) = 0.5 alpha^T G alpha - sum_t log alpha_t``  (gradient ``G alpha - 1/alpha``),

    minimised by Newton's method with a backtracking line search that keeps ``alpha > 0``
    (globally convergent; quadratic near the solution, typically under 10 steps): it is
    :func:`~mtl.balancers.solvers.alpha_fair_weights` with FairGrad's ``alpha = 1``
    (proportional fairness), run on ``G / s + FAIR_RIDGE * I`` (``s`` the mean squared
    gradient norm) and mapped back with ``alpha / sqrt(s)``. A task whose gradient
    vanished gets weight 0.

    Scale: the weights solve the equation for the Gram matrix as given. The official code
    solves it for ``G / ||G||_F`` (weights ``||G||_F^{1/2}`` times larger) and then clips
    the shared gradient norm to 1; use the trainer's gradient clipping for the latter.

    ``exact_with_representation`` is False: the bargaining problem is posed over parameter
    updates; the official code (and LibMTL) do not support representation gradients.

    Args:
        max_iter: cap on the Newton iterations of one solve (it stops earlier once
            ``max_t |alpha_t (G alpha)_t - 1| <= 1e-12``).
        optim_niter: cap on the step halvings of each Newton iteration's line search
            (the official code's name for its inner solver's iteration count).
    """

    def __init__(self, max_iter: int = 20, optim_niter: int = 20) -> None:
        super().__init__()
        if max_iter < 1 or optim_niter < 1:
            raise ValueError(f"NashMTL: max_iter and optim_niter must be >= 1; got {max_iter}, {optim_niter}")
        self.max_iter = max_iter
        self.optim_niter = optim_niter

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        return alpha_fair_weights(gram, 1.0, self.max_iter, self.optim_niter)
