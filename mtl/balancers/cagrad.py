"""CAGrad: the average gradient, steered toward the worst-off task within a ball."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.solvers import nonneg_quadratic, simplex_qp


class CAGrad(GradientBalancer):
    """Conflict-averse gradient descent (Liu et al., "Conflict-Averse Gradient Descent for
    Multi-task Learning", NeurIPS 2021).

    With ``g0`` the average gradient and ``phi = c^2 ||g0||^2``, CAGrad maximises the worst
    task improvement ``min_i g_i . d`` over the ball ``||d - g0|| <= sqrt(phi)``. Its dual
    is ``min_{w in simplex} g_w . g0 + sqrt(phi) ||g_w||`` and the update is
    ``d = g0 + (sqrt(phi) / ||g_w||) g_w``, divided by ``1 + c^2`` (``rescale=1``) or
    ``1 + c`` (``rescale=2``) as in the official code.

    The dual is solved exactly on the Gram matrix rather than by the official SLSQP call:
    writing ``sqrt(phi) ||g_w|| = min_{t > 0} (sqrt(phi) / 2)(||g_w||^2 / t + t)`` turns it
    into a jointly convex problem in ``(w, t)`` whose ``w``-minimiser at fixed ``t`` is the
    min-norm point of the shifted hull ``{g_i + (t / sqrt(phi)) g0}`` (an exact simplex QP,
    :func:`~mtl.balancers.solvers.simplex_qp`). The optimal ``t`` is the fixed point
    ``t = ||g_w(t)||``, found by bisection on this monotone condition, accelerated by the
    closed-form root of the condition on the current support (``w(t)`` is affine in ``t``
    while the support stays the same); typically 2-3 QP solves. When ``g_w = 0`` is
    optimal (0 in the hull, large ``c``) the formula is undefined (the official code
    divides by ``1e-8``); the update is then the projection of ``g0`` onto the dual cone
    ``{d : g_i . d >= 0}``, which attains the optimal worst-case improvement 0 inside
    the ball.

    ``exact_with_representation`` is False: the ball and the worst-case improvement are
    defined for parameter gradients; the official code does not offer a representation
    variant, so that mode only approximates the method.

    Args:
        c: radius of the ball relative to ``||g0||``; 0 gives the average gradient.
        rescale: 0 none, 1 divide by ``1 + c^2``, 2 divide by ``1 + c`` (official code).
    """

    def __init__(self, c: float = 0.4, rescale: int = 1) -> None:
        super().__init__()
        if c < 0:
            raise ValueError(f"CAGrad: c must be >= 0; got {c}")
        if rescale not in (0, 1, 2):
            raise ValueError(f"CAGrad: rescale must be 0, 1 or 2; got {rescale}")
        self.c = c
        self.rescale = rescale

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        mean = torch.full((n,), 1.0 / n, dtype=gram.dtype, device=gram.device)  # g0 = J^T mean
        radius = self.c * _sqrt(mean @ gram @ mean)  # sqrt(phi) = c ||g0||
        weights = mean
        if radius > 0:
            w = conflict_averse_weights(gram, radius)
            norm = _sqrt(w @ gram @ w)  # ||g_w||
            if norm > 1e-6 * _sqrt(gram.diagonal().max()):
                weights = mean + (radius / norm) * w
            else:
                # g_w = 0 is optimal (0 lies in the hull): the best worst-case improvement
                # is 0, and the closest direction to g0 achieving it is g0's projection onto
                # the dual cone {d : g_i . d >= 0}, which lies inside the ball by duality.
                weights = mean + nonneg_quadratic(gram, gram @ mean)
        divisor = (1.0, 1.0 + self.c**2, 1.0 + self.c)[self.rescale]
        return weights / divisor


def conflict_averse_weights(gram: Tensor, radius: float, max_iter: int = 100) -> Tensor:
    """``argmin_{w in simplex} g_w . g0 + radius * ||g_w||`` with ``g0`` the mean gradient."""
    n = gram.shape[0]
    mean = torch.full((n,), 1.0 / n, dtype=gram.dtype, device=gram.device)
    a = gram @ mean  # (T,) g_i . g0
    top = hi = _sqrt(gram.diagonal().max())  # ||g_w|| <= max_i ||g_i||, so t* <= hi
    lo = 0.0
    tol = 1e-9 * hi

    def solve(t: float) -> Tensor:  # min ||g_w + (t / radius) g0||^2 / 2 over the simplex
        return simplex_qp(gram, (t / radius) * a)

    t = hi
    w = solve(t)
    for _ in range(max_iter):
        r = _sqrt(w @ gram @ w)  # ||g_w(t)||
        if abs(r - t) <= tol or hi - lo <= tol:
            break
        if r <= t:  # the condition ||g_w(t)|| <= t holds exactly for t >= t*
            hi = t
        else:
            lo = t
        if hi <= 1e-8 * top:  # t* = 0: g_w = 0 is optimal; return a point with tiny g_w
            return solve(hi)
        guess = _root_on_support(gram, a, radius, w)
        t = guess if guess is not None and lo < guess < hi else 0.5 * (lo + hi)
        w = solve(t)
    return w


def _root_on_support(gram: Tensor, a: Tensor, radius: float, w: Tensor) -> float | None:
    """The ``t`` with ``||g_w(t)|| = t`` if ``w(t)`` kept the support of ``w``; None if none.

    On a fixed support ``S`` the shifted min-norm point solves
    ``[G_SS 1; 1^T 0] [w; -nu] = [-s a_S; 1]`` (``s = t / radius``), so ``w = p + s q`` and
    ``||g_w||^2 = radius^2 s^2`` is a quadratic equation in ``s``.
    """
    idx = torch.nonzero(w > 0).flatten()
    k = idx.numel()
    system = torch.zeros(k + 1, k + 1, dtype=gram.dtype, device=gram.device)
    system[:k, :k] = gram[idx][:, idx]
    system[:k, k] = 1.0
    system[k, :k] = 1.0
    rhs = torch.zeros(k + 1, 2, dtype=gram.dtype, device=gram.device)
    rhs[k, 0] = 1.0  # p: the s = 0 part
    rhs[:k, 1] = -a[idx]  # q: the part proportional to s
    try:
        sol = torch.linalg.solve(system, rhs)
    except RuntimeError:
        return None
    p = torch.zeros_like(w)
    q = torch.zeros_like(w)
    p[idx], q[idx] = sol[:k, 0], sol[:k, 1]
    pp, pq, qq = float(p @ gram @ p), float(p @ gram @ q), float(q @ gram @ q)
    # (radius^2 - qq) s^2 - 2 pq s - pp = 0
    A, B, C = radius**2 - qq, -2.0 * pq, -pp
    if abs(A) < 1e-14 * max(radius**2, qq):
        roots = [-C / B] if B != 0 else []
    else:
        disc = B * B - 4 * A * C
        if disc < 0:
            return None
        roots = [(-B + sgn * math.sqrt(disc)) / (2 * A) for sgn in (1.0, -1.0)]
    # A root past the support's range is still a good guess (the caller brackets it).
    roots = [s for s in roots if s > 0]
    return radius * min(roots) if roots else None


def _sqrt(x: Tensor) -> float:
    return math.sqrt(max(float(x), 0.0))
