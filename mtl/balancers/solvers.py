"""Small exact solvers on Gram matrices, shared by the gradient balancers.

Every problem here is posed over task weights ``w`` of the direction ``d = sum_t w_t g_t``
and needs only the Gram matrix ``G[i, j] = g_i . g_j``: ``d . g_j = (G w)_j`` and
``||d||^2 = w^T G w``. Both solvers (:func:`simplex_qp`, with :func:`min_norm_simplex`,
and :func:`nonneg_quadratic`) are finite active-set methods (no step sizes, exact up to
rounding), run in float64 on the Gram matrix's device and are meant for a handful of
tasks (T <= 16).

:func:`alpha_fair_weights` solves FairGrad's (and Nash-MTL's) equation
``(G w)_t = w_t^(-1/alpha)`` by Newton's method on a strictly convex barrier function.

Rank-deficient Gram matrices (two identical gradients, more tasks than gradient
dimensions) make the small linear systems of an active-set method singular. Each
solver therefore works on ``G / s + RIDGE * I`` with ``s = mean(diag(G))``: the scale
makes tolerances relative, and the ridge of ``1e-12`` (relative to the mean squared
gradient norm) makes every system positive definite while moving the solution by
about that amount times the conditioning of the active gradients (1e-9 relative on
well-spread gradients). Among several weight vectors giving the same direction, the
ridge picks the one of smallest norm.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Relative ridge added to the scaled Gram matrix (see the module docstring).
RIDGE = 1e-12
#: Relative tolerance of the optimality checks.
TOL = 1e-12


def scaled_gram(gram: Tensor) -> tuple[Tensor, float]:
    """``(G / s + RIDGE * I, s)`` with ``s`` the mean squared gradient norm (0 if all vanish)."""
    gram = gram.to(torch.float64)
    scale = float(gram.diagonal().mean().clamp_min(0.0))
    if scale <= torch.finfo(torch.float64).tiny:
        return gram, 0.0
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return gram / scale + RIDGE * eye, scale


def min_norm_simplex(gram: Tensor, max_iter: int | None = None) -> Tensor:
    """The minimum-norm point of the convex hull of the gradients, as simplex weights.

    Solves ``min_w w^T G w`` subject to ``w >= 0``, ``sum(w) = 1`` (see :func:`simplex_qp`).
    At the optimum ``d = sum_t w_t g_t`` satisfies ``d . g_t >= ||d||^2`` for every task,
    with equality on the support.
    """
    return simplex_qp(gram, None, max_iter)


def simplex_qp(gram: Tensor, linear: Tensor | None = None, max_iter: int | None = None) -> Tensor:
    """``argmin 0.5 w^T G w + linear . w`` over the probability simplex.

    A primal active-set method; with ``linear = 0`` it is Wolfe's nearest-point algorithm
    (Wolfe 1976, "Finding the nearest point in a polytope"). It keeps a support ``S``,
    moves to the minimiser on the affine hull of ``S`` (a small bordered linear system)
    when that has positive weights, and otherwise steps to the boundary and drops the
    blocking task; a task enters when it improves the objective. It terminates after
    finitely many steps at the exact optimum: ``(G w + linear)_t >= nu`` for all tasks,
    with equality on the support (``nu`` the multiplier of ``sum(w) = 1``).

    Args:
        gram: ``(T, T)`` Gram matrix.
        linear: ``(T,)`` linear term on ``gram``'s scale, or None for zero.
        max_iter: cap on the major iterations (default ``50 * T``); reaching it returns
            the current feasible point.

    Returns:
        ``(T,)`` weights on the simplex, float64 on ``gram``'s device.
    """
    n = gram.shape[0]
    g, scale = scaled_gram(gram)
    if n == 1 or scale == 0.0:
        return torch.full((n,), 1.0 / n, dtype=torch.float64, device=gram.device)
    p = torch.zeros(n, dtype=g.dtype, device=g.device) if linear is None else linear.to(g) / scale
    max_iter = 50 * n if max_iter is None else max_iter
    tol = TOL * (float(g.diagonal().max()) + float(p.abs().max()))
    first = int((0.5 * g.diagonal() + p).argmin())
    support = [first]
    w = torch.zeros(n, dtype=torch.float64, device=gram.device)
    w[first] = 1.0
    for _ in range(max_iter):
        grad = g @ w + p  # (T,) the objective's gradient
        j = int(grad.argmin())
        if float(grad[j]) >= float(w @ grad) - tol or j in support:
            break
        support.append(j)
        for _ in range(n + 1):  # minor cycle: each pass drops at least one task
            v = _affine_minimizer(g, p, support)
            if all(float(v[i]) > 0 for i in support):
                w = v
                break
            if float(v[j]) <= 0 and float(w[j]) == 0:
                # Exact arithmetic gives the entering task a positive weight; rounding
                # did not: the optimum is reached to working precision.
                return w
            w, support = _step_to_boundary(w, v, support)
            w = w / w.sum()
    return w


def _affine_minimizer(g: Tensor, p: Tensor, support: list[int]) -> Tensor:
    """Weights (zero off ``support``) minimising the objective on the affine hull of ``support``."""
    k = len(support)
    idx = torch.tensor(support, device=g.device)
    system = torch.zeros(k + 1, k + 1, dtype=g.dtype, device=g.device)
    system[:k, :k] = g[idx][:, idx]
    system[:k, k] = 1.0
    system[k, :k] = 1.0
    rhs = torch.zeros(k + 1, dtype=g.dtype, device=g.device)
    rhs[:k] = -p[idx]
    rhs[k] = 1.0
    solution = torch.linalg.solve(system, rhs)  # [w_S; -nu]
    v = torch.zeros(g.shape[0], dtype=g.dtype, device=g.device)
    v[idx] = solution[:k]
    return v


def nonneg_quadratic(gram: Tensor, linear: Tensor, max_iter: int | None = None) -> Tensor:
    """``argmin_{lam >= 0} 0.5 lam^T G lam + linear^T lam`` by the Lawson-Hanson active set.

    With ``linear = G u0`` this is the non-negative least-squares problem
    ``min_{lam >= 0} ||J^T lam + J^T u0||^2`` written in the Gram metric, solved exactly
    by Lawson & Hanson's active-set method (1974) with ``A^T A = G``. Optimality:
    ``G lam + linear >= 0`` with equality where ``lam > 0``.

    Args:
        gram: ``(T, T)`` Gram matrix.
        linear: ``(T,)`` linear term, on the same scale as ``gram``.
        max_iter: cap on the outer iterations (default ``10 * T``).

    Returns:
        ``(T,)`` non-negative multipliers, float64 on ``gram``'s device.
    """
    n = gram.shape[0]
    g, scale = scaled_gram(gram)
    lam = torch.zeros(n, dtype=torch.float64, device=gram.device)
    if scale == 0.0:
        return lam
    b = linear.to(torch.float64) / scale
    max_iter = 10 * n if max_iter is None else max_iter
    tol = TOL * float(g.diagonal().max())
    free: list[int] = []
    for _ in range(max_iter):
        grad = g @ lam + b  # (T,) the gradient of the objective
        blocked = torch.ones(n, dtype=torch.bool, device=gram.device)
        blocked[free] = False
        candidates = blocked & (grad < -tol)
        if not bool(candidates.any()):
            break
        j = int(torch.where(candidates, grad, torch.zeros_like(grad)).argmin())
        free.append(j)
        for _ in range(n + 1):  # inner loop: each pass fixes at least one variable at 0
            idx = torch.tensor(free, device=gram.device)
            z = torch.zeros_like(lam)
            z[idx] = torch.linalg.solve(g[idx][:, idx], -b[idx])
            if all(float(z[i]) > 0 for i in free):
                lam = z
                break
            if float(z[j]) <= 0 and float(lam[j]) == 0:
                return lam  # as in min_norm_simplex: optimal to working precision
            lam, free = _step_to_boundary(lam, z, free)
    return lam


def _step_to_boundary(x: Tensor, y: Tensor, active: list[int]) -> tuple[Tensor, list[int]]:
    """Move from feasible ``x`` toward ``y`` until the first active coordinate hits 0; drop it.

    Coordinates outside ``active`` are zero in both; the result keeps only the active
    coordinates that stay positive.
    """
    blocking = [i for i in active if float(y[i]) <= 0]
    ratios = [float(x[i] / (x[i] - y[i])) for i in blocking]
    k = min(range(len(blocking)), key=ratios.__getitem__)
    theta = min(max(ratios[k], 0.0), 1.0)
    x = x + theta * (y - x)
    x[blocking[k]] = 0.0
    active = [i for i in active if float(x[i]) > 0]
    mask = torch.zeros_like(x)
    mask[active] = 1.0
    return x * mask, active


def project_simplex(v: Tensor) -> Tensor:
    """The Euclidean projection of ``v`` onto the probability simplex.

    The sort-based algorithm (Duchi et al., "Efficient Projections onto the l1-Ball for
    Learning in High Dimensions", ICML 2008): ``max(v - theta, 0)`` with the threshold
    ``theta`` that makes the result sum to 1.

    Args:
        v: ``(T,)`` any real vector.

    Returns:
        ``(T,)`` float64 weights on the simplex, on ``v``'s device.
    """
    v = v.to(torch.float64)
    u = v.sort(descending=True).values  # (T,)
    cumulative = u.cumsum(0) - 1.0  # (T,)
    k = torch.arange(1, v.numel() + 1, dtype=v.dtype, device=v.device)
    kept = (u - cumulative / k > 0).sum()  # the condition holds on a prefix (always its first entry)
    theta = cumulative[kept - 1] / kept  # no device sync: SDMGrad projects many times per step
    return (v - theta).clamp_min(0.0)


#: Relative ridge of :func:`alpha_fair_weights`: gradients with a positive combination
#: summing to zero (e.g. g_2 = -g_1) have no finite solution; with the ridge their weights
#: stay bounded (about ``1e4`` times the typical ones for ``alpha = 1``) and that
#: combination adds nothing to ``d``.
FAIR_RIDGE = 1e-8


def alpha_fair_weights(gram: Tensor, alpha: float = 1.0, max_iter: int = 20, optim_niter: int = 20) -> Tensor:
    """``w > 0`` with ``(G w)_t = w_t^(-1/alpha)`` for every task whose gradient is non-zero.

    The alpha-fair allocation of FairGrad; ``alpha = 1`` is Nash-MTL's ``G w = 1 / w``. The
    equation is solved on ``G / s + FAIR_RIDGE * I`` (``s`` the mean squared norm of the
    non-vanished gradients) by :func:`fair_newton`, and mapped back: if ``w'`` solves it for
    ``G / s``, then ``w = s^(-alpha / (alpha + 1)) w'`` solves it for ``G``. A task whose
    gradient vanished has no utility (``(G w)_t = 0`` for every ``w``): weight 0.
    """
    gram = gram.to(torch.float64)
    diag = gram.diagonal()
    weights = torch.zeros_like(diag)
    active = torch.nonzero(diag > 1e-24 * float(diag.max())).flatten()
    if active.numel() == 0:
        return weights
    sub = gram[active][:, active]
    scale = float(sub.diagonal().mean())
    eye = torch.eye(active.numel(), dtype=gram.dtype, device=gram.device)
    solution = fair_newton(sub / scale + FAIR_RIDGE * eye, alpha, max_iter, optim_niter)
    weights[active] = solution * scale ** (-alpha / (alpha + 1.0))
    return weights


def fair_newton(gram: Tensor, alpha: float = 1.0, max_iter: int = 20, optim_niter: int = 20, tol: float = 1e-12) -> Tensor:
    """``w > 0`` with ``gram @ w = w^(-1/alpha)``, by Newton's method on a barrier function.

    The equation is the stationarity condition of the strictly convex
    ``f(w) = 0.5 w^T G w - sum_t u(w_t)`` with ``u' (w) = w^(-1/alpha)`` (``u = log`` for
    ``alpha = 1``, else ``w^(1 - 1/alpha) / (1 - 1/alpha)``), whose Hessian is
    ``G + diag(w^(-1/alpha - 1) / alpha)``. ``gram`` must be positive definite. Each Newton
    step is cut back to stay inside ``w > 0`` (99% of the way to the boundary) and then
    halved, at most ``optim_niter`` times, until ``f`` decreases by a quarter of the
    predicted amount (Armijo). Stops when ``max |w^(1/alpha) (gram @ w) - 1| <= tol`` or
    after ``max_iter`` steps; the iterate is always positive. It starts from the exact
    solution for orthogonal gradients, ``w_t = G_tt^(-alpha / (alpha + 1))``.
    """
    power = 1.0 / alpha
    w = gram.diagonal().clamp_min(1e-300).pow(-alpha / (alpha + 1.0))

    def utility(x: Tensor) -> Tensor:
        return x.log() if alpha == 1.0 else x.pow(1.0 - power) / (1.0 - power)

    def barrier(x: Tensor) -> float:
        return float(0.5 * x @ gram @ x - utility(x).sum())

    for _ in range(max_iter):
        g_w = gram @ w  # (T,)
        if float((w.pow(power) * g_w - 1.0).abs().max()) <= tol:
            break
        grad = g_w - w.pow(-power)  # (T,)
        hessian = gram + torch.diag(power * w.pow(-power - 1.0))  # (T, T) positive definite
        delta = -torch.linalg.solve(hessian, grad)
        step = 1.0
        shrinking = delta < 0
        if bool(shrinking.any()):
            step = min(1.0, 0.99 * float((-w[shrinking] / delta[shrinking]).min()))
        current, slope = barrier(w), float(grad @ delta)
        for _ in range(optim_niter):
            if barrier(w + step * delta) <= current + 0.25 * step * slope:
                break
            step *= 0.5
        w = w + step * delta
    return w
