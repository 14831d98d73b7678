"""Nash-MTL: the Nash bargaining solution of the tasks over the update direction."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer

#: Relative ridge on the Gram matrix: gradients with a positive combination summing to
#: zero (e.g. g_2 = -g_1) have no finite solution; with the ridge their weights stay below
#: about ``1e4`` times the typical ones (and that combination adds nothing to ``d``).
NASH_RIDGE = 1e-8


class NashMTL(GradientBalancer):
    """Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022).

    The bargaining solution is, up to scale, ``d = sum_t alpha_t g_t`` with ``alpha > 0``
    solving ``G alpha = 1 / alpha`` (elementwise), i.e. every task gets
    ``alpha_t (d . g_t) = 1``. The paper approximates it with a sequence of convex
    programs in cvxpy. Here the equation is solved directly: it is the stationarity
    condition of the strictly convex barrier function

        ``f(alpha) = 0.5 alpha^T G alpha - sum_t log alpha_t``  (gradient ``G alpha - 1/alpha``),

    minimised by Newton's method with a backtracking line search that keeps ``alpha > 0``
    (globally convergent; quadratic near the solution, typically under 10 steps). It runs on
    ``G / s + NASH_RIDGE * I`` (``s`` the mean squared gradient norm) and maps back with
    ``alpha / sqrt(s)``. A task whose gradient vanished gets weight 0.

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
        gram = gram.to(torch.float64)
        diag = gram.diagonal()
        weights = torch.zeros_like(diag)
        # A vanished gradient has no bargaining utility (its log is -inf): weight 0.
        active = torch.nonzero(diag > 1e-24 * float(diag.max())).flatten()
        if active.numel() == 0:
            return weights
        sub = gram[active][:, active]
        scale = float(sub.diagonal().mean())
        eye = torch.eye(active.numel(), dtype=gram.dtype, device=gram.device)
        alpha = bargaining_weights(sub / scale + NASH_RIDGE * eye, self.max_iter, self.optim_niter)
        weights[active] = alpha / math.sqrt(scale)
        return weights


def bargaining_weights(gram: Tensor, max_iter: int = 20, optim_niter: int = 20, tol: float = 1e-12) -> Tensor:
    """``alpha > 0`` with ``gram @ alpha = 1 / alpha``, by Newton's method on the barrier function.

    ``gram`` must be positive definite. Each Newton step is cut back to stay inside
    ``alpha > 0`` (99% of the way to the boundary) and then halved, at most
    ``optim_niter`` times, until ``f`` decreases by a quarter of the predicted amount
    (Armijo). Stops when ``max |alpha * (gram @ alpha) - 1| <= tol`` or after ``max_iter``
    steps; the iterate is always positive.
    """
    alpha = gram.diagonal().clamp_min(1e-300).rsqrt()  # exact for orthogonal gradients

    def barrier(x: Tensor) -> float:
        return float(0.5 * x @ gram @ x - x.log().sum())

    for _ in range(max_iter):
        g_alpha = gram @ alpha  # (T,)
        if float((alpha * g_alpha - 1.0).abs().max()) <= tol:
            break
        grad = g_alpha - 1.0 / alpha  # (T,)
        hessian = gram + torch.diag(alpha.pow(-2))  # (T, T) positive definite
        delta = -torch.linalg.solve(hessian, grad)
        step = 1.0
        shrinking = delta < 0
        if bool(shrinking.any()):
            step = min(1.0, 0.99 * float((-alpha[shrinking] / delta[shrinking]).min()))
        current, slope = barrier(alpha), float(grad @ delta)
        for _ in range(optim_niter):
            if barrier(alpha + step * delta) <= current + 0.25 * step * slope:
                break
            step *= 0.5
        alpha = alpha + step * delta
    return alpha
