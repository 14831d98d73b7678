"""Gradient balancers on explicit task gradients: rows of ``J`` (T x P), ``gram = J @ J.T``,
update ``d = w @ J``. Each test checks the property that defines the method."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares, minimize

from mtl.balancers.aligned_mtl import AlignedMTL
from mtl.balancers.cagrad import CAGrad
from mtl.balancers.config import ConFIG
from mtl.balancers.cr_mogm import CRMOGM
from mtl.balancers.dbmtl import DBMTL
from mtl.balancers.dualproj import DualProj
from mtl.balancers.excess_mtl import ExcessMTL
from mtl.balancers.fairgrad import FairGrad
from mtl.balancers.gradnorm import GradNorm
from mtl.balancers.gradvac import GradVac
from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.imtl import IMTLG
from mtl.balancers.mgda import MGDA
from mtl.balancers.moco import MoCo
from mtl.balancers.modo import MoDo
from mtl.balancers.nash_mtl import NashMTL
from mtl.balancers.pcgrad import PCGrad
from mtl.balancers.sdmgrad import SDMGrad
from mtl.balancers.solvers import min_norm_simplex, nonneg_quadratic, project_simplex, simplex_qp
from mtl.balancers.upgrad import UPGrad

F64 = torch.float64


def conflicting(seed: int, tasks: int = 4, dim: int = 5) -> torch.Tensor:
    """Random task gradients (rows) with at least one conflicting pair."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        jac = torch.randn(tasks, dim, generator=gen, dtype=F64) * torch.rand(tasks, 1, generator=gen, dtype=F64).add(0.3)
        gram = jac @ jac.T
        if bool((gram < 0).any()):
            return jac


def direction(balancer: GradientBalancer, jac: torch.Tensor, losses: torch.Tensor | None = None) -> torch.Tensor:
    losses = torch.ones(jac.shape[0], dtype=F64) if losses is None else losses
    return balancer(jac @ jac.T, losses) @ jac


def simplex_argmin(fun, tasks: int) -> np.ndarray:  # noqa: ANN001 - a scipy objective
    """Reference minimiser over the simplex: SLSQP from the centre and every vertex."""
    starts = [np.full(tasks, 1.0 / tasks), *np.eye(tasks)]
    runs = [
        minimize(
            fun,
            x0,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * tasks,
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0}],
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        for x0 in starts
    ]
    return min(runs, key=lambda r: r.fun).x


# --- MGDA -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mgda_is_the_min_norm_point_of_the_hull(seed: int) -> None:
    jac = conflicting(seed)
    gram = jac @ jac.T
    w = MGDA()(gram, torch.ones(4, dtype=F64))
    d = w @ jac
    assert w.sum().item() == pytest.approx(1.0) and bool((w >= 0).all())
    ref = simplex_argmin(lambda x: x @ gram.numpy() @ x, 4) @ jac.numpy()
    np.testing.assert_allclose(d.numpy(), ref, atol=1e-6)
    # KKT: d . g_i >= ||d||^2 everywhere, with equality where w_i > 0.
    inner, norm2 = jac @ d, d @ d
    assert bool((inner >= norm2 - 1e-10).all())
    torch.testing.assert_close(inner[w > 1e-9], norm2.expand(int((w > 1e-9).sum())), atol=1e-10, rtol=0)


def test_mgda_hand_values_and_l2_normalization() -> None:
    jac = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=F64)
    # Min-norm point of the segment from (2, 0) to (0, 1): (0.2, 0.8) weights, d = (0.4, 0.8).
    torch.testing.assert_close(MGDA()(jac @ jac.T, torch.ones(2, dtype=F64)), torch.tensor([0.2, 0.8], dtype=F64))
    # l2: unit gradients get (0.5, 0.5); mapped back to the raw ones: (0.25, 0.5).
    torch.testing.assert_close(MGDA("l2")(jac @ jac.T, torch.ones(2, dtype=F64)), torch.tensor([0.25, 0.5], dtype=F64))
    with pytest.raises(ValueError, match="normalization must be one of"):
        MGDA("max")  # type: ignore[arg-type]


# --- PCGrad -----------------------------------------------------------------------------


def test_pcgrad_projects_conflicting_pairs() -> None:
    jac = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.5]], dtype=F64)
    balancer = PCGrad(seed=0)
    projected = balancer.projections(jac @ jac.T) @ jac  # (2, P): g_1', g_2'
    assert projected[0] @ jac[1] == pytest.approx(0.0, abs=1e-12)
    assert projected[1] @ jac[0] == pytest.approx(0.0, abs=1e-12)
    # g_1' = g_1 - (g_1.g_2 / ||g_2||^2) g_2 = (1,0,0) + (1/2.25)(-1,1,.5)
    torch.testing.assert_close(projected[0], jac[0] + jac[1] / 2.25)
    torch.testing.assert_close(direction(balancer, jac), projected.sum(0))


def test_pcgrad_leaves_agreeing_gradients_alone() -> None:
    jac = torch.tensor([[1.0, 0.2, 0.0], [0.5, 1.0, 0.3], [0.1, 0.0, 1.0]], dtype=F64)  # no pair conflicts
    torch.testing.assert_close(direction(PCGrad(seed=1), jac), jac.sum(0))


# --- UPGrad -----------------------------------------------------------------------------


def project_on_dual_cone(jac: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Brute force: min ||v - g||^2 subject to J v >= 0, in the gradient space."""
    result = minimize(
        lambda v: ((v - g) ** 2).sum(),
        g,
        jac=lambda v: 2 * (v - g),
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda v: jac @ v, "jac": lambda v: jac}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return result.x


@pytest.mark.parametrize(("seed", "tasks"), [(0, 4), (3, 4), (4, 6)])
def test_upgrad_conflicts_with_no_task_and_averages_projections(seed: int, tasks: int) -> None:
    jac = conflicting(seed, tasks=tasks)
    d = direction(UPGrad(), jac)
    assert bool((jac @ d >= -1e-10).all())
    ref = np.mean([project_on_dual_cone(jac.numpy(), g) for g in jac.numpy()], axis=0)
    np.testing.assert_allclose(d.numpy(), ref, atol=1e-6)


def test_nonneg_quadratic_optimality() -> None:
    jac = conflicting(5, tasks=5)
    gram = jac @ jac.T
    lam = nonneg_quadratic(gram, gram[:, 0])
    grad = gram @ lam + gram[:, 0]
    assert bool((lam >= 0).all()) and bool((grad >= -1e-10).all())
    assert float((lam * grad).abs().max()) < 1e-10


# --- IMTL-G -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_imtlg_has_equal_projections_on_unit_gradients(seed: int) -> None:
    jac = conflicting(seed)
    w = IMTLG()(jac @ jac.T, torch.ones(4, dtype=F64))
    assert w.sum().item() == pytest.approx(1.0)
    units = jac / jac.norm(dim=1, keepdim=True)
    projections = units @ (w @ jac)
    torch.testing.assert_close(projections, projections[0].expand(4), atol=1e-10, rtol=0)


# --- CAGrad -----------------------------------------------------------------------------


def test_cagrad_without_radius_is_the_mean() -> None:
    jac = conflicting(0)
    torch.testing.assert_close(direction(CAGrad(c=0.0), jac), jac.mean(0))


@pytest.mark.parametrize(("seed", "c"), [(0, 0.4), (1, 0.4), (2, 0.9), (3, 0.1)])
def test_cagrad_improves_the_worst_task_and_solves_its_dual(seed: int, c: float) -> None:
    jac = conflicting(seed)
    gram, g0 = jac @ jac.T, jac.mean(0)
    d = direction(CAGrad(c=c, rescale=0), jac)
    assert (jac @ d).min() >= (jac @ g0).min() - 1e-10
    assert (d - g0).norm() <= c * g0.norm() + 1e-10
    # The dual objective at the returned weights matches a reference solver's optimum.
    a, radius = (gram @ torch.full((4,), 0.25, dtype=F64)).numpy(), c * float(g0.norm())
    dual = lambda x: x @ a + radius * math.sqrt(max(x @ gram.numpy() @ x, 0.0))  # noqa: E731
    # Strong duality: the best worst-case improvement equals the dual optimum.
    assert float((jac @ d).min()) == pytest.approx(dual(simplex_argmin(dual, 4)), abs=1e-7)
    scaled = CAGrad(c=c, rescale=1)(gram, torch.ones(4, dtype=F64))
    torch.testing.assert_close(scaled, CAGrad(c=c, rescale=0)(gram, torch.ones(4, dtype=F64)) / (1 + c**2))


# --- Nash-MTL ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nash_mtl_solves_the_bargaining_equation(seed: int) -> None:
    jac = conflicting(seed)
    gram = jac @ jac.T
    alpha = NashMTL()(gram, torch.ones(4, dtype=F64))
    assert bool((alpha > 0).all())
    torch.testing.assert_close(alpha * (gram @ alpha), torch.ones(4, dtype=F64), atol=1e-4, rtol=0)
    # Scaling the gradients by 2 halves the weights (the equation is homogeneous of degree -2).
    torch.testing.assert_close(NashMTL()(4 * gram, torch.ones(4, dtype=F64)), alpha / 2)


# --- Aligned-MTL ------------------------------------------------------------------------


def test_aligned_mtl_makes_gradients_orthonormal_up_to_scale() -> None:
    jac = conflicting(0)
    gram = jac @ jac.T
    balancer = AlignedMTL()
    b = balancer.alignment(gram)
    aligned_gram = b @ gram @ b  # Gram matrix of the rows of B J
    sigma2 = torch.linalg.eigvalsh(gram).min()
    torch.testing.assert_close(aligned_gram, sigma2 * torch.eye(4, dtype=F64))
    torch.testing.assert_close(balancer(gram, torch.ones(4, dtype=F64)), b.sum(1))
    rmse = AlignedMTL("rmse").alignment(gram)
    torch.testing.assert_close(rmse @ gram @ rmse, torch.linalg.eigvalsh(gram).mean() * torch.eye(4, dtype=F64))


def test_aligned_mtl_on_a_rank_deficient_gram_is_a_scaled_projector() -> None:
    jac = conflicting(1, tasks=4, dim=2)  # rank 2
    gram = jac @ jac.T
    b = AlignedMTL("median").alignment(gram)
    aligned_gram = b @ gram @ b
    eig = torch.linalg.eigvalsh(aligned_gram)
    torch.testing.assert_close(eig[:2], torch.zeros(2, dtype=F64), atol=1e-10, rtol=0)
    torch.testing.assert_close(eig[2], eig[3])  # equal norms, orthogonal, in the span


# --- GradVac ----------------------------------------------------------------------------


def test_gradvac_raises_cosines_to_their_targets_and_tracks_them() -> None:
    jac = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]], dtype=F64)  # cos = 0.6
    balancer = GradVac(beta=0.1, seed=0)
    balancer.targets = torch.tensor([[0.0, 0.9], [0.9, 0.0]], dtype=F64)
    w = balancer(jac @ jac.T, torch.ones(2, dtype=F64))
    # w = (1 + c_1, 1 + c_0): g_0' = g_0 + c_0 g_1 and g_1' = g_1 + c_1 g_0.
    g0_new, g1_new = jac[0] + (w[1] - 1) * jac[1], jac[1] + (w[0] - 1) * jac[0]
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
    assert cos(g0_new, jac[1]) == pytest.approx(0.9)
    assert cos(g1_new, jac[0]) == pytest.approx(0.9)
    torch.testing.assert_close(balancer.targets, torch.tensor([[0.0, 0.87], [0.87, 0.0]], dtype=F64))
    # Above their targets, gradients are left alone (the targets still move).
    balancer.targets = torch.full((2, 2), -0.5, dtype=F64)
    torch.testing.assert_close(balancer(jac @ jac.T, torch.ones(2, dtype=F64)), torch.ones(2, dtype=F64))
    assert balancer.targets[0, 1].item() == pytest.approx(0.9 * -0.5 + 0.1 * 0.6)


def test_gradvac_state_round_trip() -> None:
    jac = conflicting(2, tasks=3)
    balancer = GradVac(seed=3)
    balancer(jac @ jac.T, torch.ones(3, dtype=F64))
    restored = GradVac(seed=3)
    restored.load_state_dict(balancer.state_dict())
    torch.testing.assert_close(restored.targets, balancer.targets)


# --- GradNorm ---------------------------------------------------------------------------


def test_gradnorm_favours_slow_tasks_and_round_trips() -> None:
    gram = torch.eye(2, dtype=F64)  # orthogonal unit gradients
    balancer = GradNorm(alpha=1.5, lr=0.025)
    torch.testing.assert_close(balancer(gram, torch.tensor([1.0, 1.0], dtype=F64)), torch.ones(2, dtype=F64))
    slow_first = torch.tensor([0.9, 0.5], dtype=F64)  # task 0 trains slower: r = (9/7, 5/7)
    torch.testing.assert_close(balancer(gram, slow_first), torch.ones(2, dtype=F64))
    # Hand step: |w_i - mean(w) r_i^1.5| pulls w_0 up and w_1 down by lr * ||g_i|| = 0.025.
    torch.testing.assert_close(balancer.weights, torch.tensor([1.025, 0.975], dtype=F64))
    for _ in range(5):
        w = balancer(gram, slow_first)
        assert w.sum().item() == pytest.approx(2.0)
    assert w[0] > 1.1 > 0.9 > w[1]
    restored = GradNorm()
    restored.load_state_dict(balancer.state_dict())
    torch.testing.assert_close(restored(gram, slow_first), balancer(gram, slow_first))


# --- DB-MTL -----------------------------------------------------------------------------


def test_dbmtl_equalises_log_gradient_norms() -> None:
    jac = conflicting(0)
    losses = torch.tensor([2.0, 0.5, 1.0, 3.0], dtype=F64)
    w = DBMTL(beta=0.0)(jac @ jac.T, losses)
    scaled = (w[:, None] * jac).norm(dim=1)  # ||w_i g_i|| = max_j ||grad log L_j||
    torch.testing.assert_close(scaled, (jac.norm(dim=1) / losses).max().expand(4))


def test_dbmtl_ema_of_norms_and_state_round_trip() -> None:
    gram, losses = torch.diag(torch.tensor([1.0, 4.0], dtype=F64)), torch.ones(2, dtype=F64)
    balancer = DBMTL(beta=0.5, beta_sigma=0.5)
    balancer(gram, losses)  # norms (1, 2); EMA = 0.5 * (1, 2)
    balancer(4 * gram, losses)  # norms (2, 4); rate 0.5 / sqrt(2)
    rate = 0.5 / math.sqrt(2)
    torch.testing.assert_close(
        balancer.norms, torch.tensor([2.0, 4.0], dtype=F64) * (1 - rate) + rate * torch.tensor([0.5, 1.0], dtype=F64)
    )
    restored = DBMTL(beta=0.5, beta_sigma=0.5)
    restored.load_state_dict(balancer.state_dict())
    assert int(restored.step) == 2
    torch.testing.assert_close(restored(gram, losses), balancer(gram, losses))


# --- ConFIG -----------------------------------------------------------------------------


def test_config_by_hand_on_two_orthogonal_gradients() -> None:
    # u = (1, 0), (0, 1): b = U^+ 1 = (1, 1), e = (1, 1) / sqrt(2); d = (g_1 . e + g_2 . e) e
    jac = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=F64)
    d = direction(ConFIG(), jac)
    torch.testing.assert_close(d, torch.tensor([2.0, 2.0], dtype=F64))  # (3 + 1) / sqrt(2) * (1, 1) / sqrt(2)


@pytest.mark.parametrize(("seed", "tasks"), [(0, 3), (1, 4), (2, 4)])
def test_config_has_equal_positive_cosines_and_matches_the_pseudo_inverse(seed: int, tasks: int) -> None:
    jac = conflicting(seed, tasks=tasks, dim=6)
    d = direction(ConFIG(), jac)
    cosines = (jac @ d) / (jac.norm(dim=1) * d.norm())
    assert bool((cosines > 0).all())
    torch.testing.assert_close(cosines, cosines.mean().expand(tasks), atol=1e-9, rtol=0)
    # torchjd's formula on the gradients themselves (numpy): pinv of the unit rows
    units = jac.numpy() / np.linalg.norm(jac.numpy(), axis=1, keepdims=True)
    best = np.linalg.pinv(units) @ np.ones(tasks)
    unit = best / np.linalg.norm(best)
    np.testing.assert_allclose(d.numpy(), (jac.numpy() @ unit).sum() * unit, atol=1e-9)


def test_config_gives_a_vanished_gradient_no_weight() -> None:
    jac = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=F64)
    w = ConFIG()(jac @ jac.T, torch.ones(3, dtype=F64))
    assert w[0] == 0
    torch.testing.assert_close(w @ jac, torch.tensor([1.5, 1.5], dtype=F64))  # (2 + 1) / sqrt(2) * (1, 1) / sqrt(2)


# --- DualProj ---------------------------------------------------------------------------


def test_dualproj_by_hand() -> None:
    # the mean (0, 1.5) conflicts with no task: it is the update
    agreeing = torch.tensor([[1.0, 1.0], [-1.0, 2.0]], dtype=F64)
    torch.testing.assert_close(DualProj()(agreeing @ agreeing.T, torch.ones(2, dtype=F64)), torch.full((2,), 0.5, dtype=F64))
    # the mean (0.5, 0.25) has g_2 . g0 = -0.375: the closest d with d . g_2 >= 0 is its
    # projection onto the plane g_2 . d = 0, g0 + (0.375 / 1.25) g_2 = (0.2, 0.4) (and g_1 . d > 0)
    jac = torch.tensor([[2.0, 0.0], [-1.0, 0.5]], dtype=F64)
    torch.testing.assert_close(direction(DualProj(), jac), torch.tensor([0.2, 0.4], dtype=F64))


@pytest.mark.parametrize(("seed", "tasks"), [(0, 3), (1, 4), (4, 6)])
def test_dualproj_is_the_closest_unconflicting_vector_to_the_mean(seed: int, tasks: int) -> None:
    jac = conflicting(seed, tasks=tasks, dim=5)
    d = direction(DualProj(), jac)
    assert bool((jac @ d >= -1e-10).all())
    mean = jac.mean(0).numpy()
    ref = minimize(
        lambda x: 0.5 * ((x - mean) ** 2).sum(),
        mean,
        jac=lambda x: x - mean,
        constraints=[{"type": "ineq", "fun": lambda x: jac.numpy() @ x, "jac": lambda x: jac.numpy()}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    ).x
    np.testing.assert_allclose(d.numpy(), ref, atol=1e-6)


# --- FairGrad ---------------------------------------------------------------------------


def test_fairgrad_by_hand_on_orthogonal_gradients() -> None:
    # G = diag(4, 1): 4 w_1 = w_1^(-1/alpha) -> w_1 = 4^(-alpha / (alpha + 1)); alpha = 2: 4^(-2/3)
    gram = torch.diag(torch.tensor([4.0, 1.0], dtype=F64))
    torch.testing.assert_close(FairGrad(alpha=2.0)(gram, torch.ones(2, dtype=F64)), torch.tensor([4 ** (-2 / 3), 1.0], dtype=F64))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_fairgrad_solves_the_alpha_fair_equation_as_libmtl(alpha: float, seed: int) -> None:
    jac = conflicting(seed, tasks=3)
    gram = jac @ jac.T
    w = FairGrad(alpha=alpha)(gram, torch.ones(3, dtype=F64))
    assert bool((w > 0).all())
    torch.testing.assert_close(gram @ w, w.pow(-1.0 / alpha), atol=1e-6, rtol=1e-5)  # the solver's 1e-8 ridge
    # LibMTL's solve: scipy least squares from 1/T, w >= 0
    ref = least_squares(lambda x: gram.numpy() @ x - (1 / x) ** (1 / alpha), np.full(3, 1 / 3), bounds=(0, np.inf))
    np.testing.assert_allclose(w.numpy(), ref.x, rtol=1e-5)
    # alpha = 1 is Nash-MTL's bargaining equation
    if alpha == 1.0:
        torch.testing.assert_close(w, NashMTL()(gram, torch.ones(3, dtype=F64)))


# --- ExcessMTL --------------------------------------------------------------------------


def excess_reference(jacs: list[np.ndarray], step_size: float) -> np.ndarray:
    """LibMTL's ExcessMTL weights after the steps with task gradients ``jacs`` (numpy)."""
    squares = np.zeros_like(jacs[0])
    weights, initial = np.ones(jacs[0].shape[0]), None
    for jac in jacs:
        squares += jac**2
        risks = (jac * jac / np.sqrt(squares + 1e-7)).sum(1)
        if initial is None:
            initial = risks
        else:
            weights = weights * np.exp(step_size * risks / initial)
            weights = weights / weights.sum() * len(weights)
    return weights


def test_excess_mtl_moves_weight_to_the_task_with_the_larger_excess_risk() -> None:
    first = torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]], dtype=F64)
    # second step: task 1's gradient keeps its size, task 2's shrinks tenfold (near its optimum)
    second = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.2, 0.0]], dtype=F64)
    balancer = ExcessMTL(step_size=0.5)
    w1 = balancer(first @ first.T, torch.ones(2, dtype=F64), first)
    torch.testing.assert_close(w1, torch.ones(2, dtype=F64))  # the first step sets the reference
    w2 = balancer(second @ second.T, torch.ones(2, dtype=F64), second)
    # e_1: 2 coordinates of 1 / sqrt(2) = sqrt(2), over the reference 2 -> 1/sqrt(2);
    # e_2: 0.04 / sqrt(4.04) over 4 / 2 -> 0.02 / sqrt(4.04)
    r1, r2 = 1 / math.sqrt(2), 0.02 / math.sqrt(4.04)
    expected = 2 * torch.softmax(torch.tensor([0.5 * r1, 0.5 * r2], dtype=F64), 0)
    torch.testing.assert_close(w2, expected, atol=1e-7, rtol=1e-7)
    assert w2[0] > 1 > w2[1]


def test_excess_mtl_matches_libmtl_and_round_trips() -> None:
    gen = torch.Generator().manual_seed(0)
    jacs = [torch.randn(3, 7, generator=gen, dtype=F64) * torch.tensor([[1.0], [0.5], [2.0]], dtype=F64) for _ in range(4)]
    balancer = ExcessMTL(step_size=0.1)
    for jac in jacs[:3]:
        balancer(jac @ jac.T, torch.ones(3, dtype=F64), jac)
    restored = ExcessMTL(step_size=0.1)
    restored.load_state_dict(balancer.state_dict())
    w = balancer(jacs[3] @ jacs[3].T, torch.ones(3, dtype=F64), jacs[3])
    np.testing.assert_allclose(w.numpy(), excess_reference([j.numpy() for j in jacs], 0.1), rtol=1e-6)
    torch.testing.assert_close(restored(jacs[3] @ jacs[3].T, torch.ones(3, dtype=F64), jacs[3]), w)
    with pytest.raises(ValueError, match="gradient_mode 'parameters'"):
        ExcessMTL()(jacs[0] @ jacs[0].T, torch.ones(3, dtype=F64))


# --- every method -----------------------------------------------------------------------

ALL = [
    MGDA,
    lambda: MGDA("loss+"),
    lambda: PCGrad(seed=0),
    CAGrad,
    IMTLG,
    lambda: GradVac(seed=0),
    AlignedMTL,
    NashMTL,
    UPGrad,
    GradNorm,
    DBMTL,
    MoCo,
    SDMGrad,
    MoDo,
    CRMOGM,
    ConFIG,
    DualProj,
    FairGrad,
    lambda: FairGrad(alpha=0.5),
]


@pytest.mark.parametrize("make", ALL)
@pytest.mark.parametrize("case", ["duplicate", "opposite", "single", "zero"])
def test_every_method_is_finite_on_degenerate_grams(make, case: str) -> None:  # noqa: ANN001
    jac = {
        "duplicate": torch.tensor([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0], [-1.0, 0.5, 1.0]], dtype=F64),
        "opposite": torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=F64),
        "single": torch.tensor([[0.5, -1.0, 2.0]], dtype=F64),
        "zero": torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64),
    }[case]
    balancer = make()
    for _ in range(2):  # stateful methods: the first and a later step
        w = balancer(jac @ jac.T, torch.full((jac.shape[0],), 0.7, dtype=F64))
        assert w.shape == (jac.shape[0],) and w.dtype == F64
        assert bool(torch.isfinite(w).all()), w


def test_representation_flags() -> None:
    exact = {cls for cls in (MGDA, IMTLG, AlignedMTL) if cls.exact_with_representation}
    approximate = {
        cls
        for cls in (PCGrad, CAGrad, GradVac, NashMTL, UPGrad, GradNorm, DBMTL, ConFIG, DualProj, FairGrad, ExcessMTL)
        if not cls.exact_with_representation
    }
    assert exact == {MGDA, IMTLG, AlignedMTL} and len(approximate) == 11
    assert all(cls.needs_task_gradients for cls in (MGDA, PCGrad, UPGrad))
    assert ExcessMTL.needs_gradients and not any(cls.needs_gradients for cls in (MGDA, UPGrad, FairGrad))


def test_min_norm_simplex_closed_form_for_two() -> None:
    jac = torch.tensor([[3.0, 1.0], [-1.0, 2.0]], dtype=F64)
    gram = jac @ jac.T
    # w_1 = (g_2 - g_1) . g_2 / ||g_1 - g_2||^2, clipped to [0, 1].
    w1 = float((jac[1] - jac[0]) @ jac[1] / (jac[0] - jac[1]).pow(2).sum())
    torch.testing.assert_close(min_norm_simplex(gram), torch.tensor([w1, 1 - w1], dtype=F64))


# --- simplex projection -----------------------------------------------------------------


def test_project_simplex_hand_values() -> None:
    # u - (cumsum(u) - 1) / k = (1, 0.1, -0.73): two coordinates kept, theta = (1.2 - 1) / 2
    torch.testing.assert_close(project_simplex(torch.tensor([1.0, 0.2, -1.0])), torch.tensor([0.9, 0.1, 0.0], dtype=F64))
    torch.testing.assert_close(project_simplex(torch.tensor([0.6, 0.6], dtype=F64)), torch.tensor([0.5, 0.5], dtype=F64))
    torch.testing.assert_close(project_simplex(torch.tensor([3.0, -2.0], dtype=F64)), torch.tensor([1.0, 0.0], dtype=F64))


def libmtl_projection(y: np.ndarray) -> np.ndarray:
    """LibMTL's ``_projection2simplex`` (MoDo), restated in numpy."""
    m, s = len(y), np.sort(y)[::-1]
    total, tmax_f = 0.0, (y.sum() - 1.0) / m
    for i in range(m - 1):
        total += s[i]
        tmax = (total - 1.0) / (i + 1.0)
        if tmax > s[i + 1]:
            tmax_f = tmax
            break
    return np.maximum(y - tmax_f, 0.0)


def jacobians(steps: int, tasks: int = 3, dim: int = 6) -> list[torch.Tensor]:
    """A different fixed Jacobian per step."""
    gen = torch.Generator().manual_seed(7)
    return [torch.randn(tasks, dim, generator=gen, dtype=F64) for _ in range(steps)]


# --- MoCo -------------------------------------------------------------------------------


def test_moco_with_beta_one_uses_the_current_gradients_only() -> None:
    losses = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    balancer = MoCo(beta=1.0, beta_sigma=0.0, gamma=0.2, gamma_sigma=0.0, rho=0.1)
    lam = np.full(3, 1 / 3)
    for jac in jacobians(3):
        w = balancer(jac @ jac.T, losses)
        y = (jac / jac.norm(dim=1, keepdim=True) * losses[:, None]).numpy()  # (T, P) rescaled gradients
        lam = libmtl_projection(lam - 0.2 * (y @ y.T + 0.1 * np.eye(3)) @ lam)
        torch.testing.assert_close(balancer.tracked, torch.from_numpy(y @ y.T))
        torch.testing.assert_close(w @ jac, torch.from_numpy(y.T @ lam))  # the update is Y^T lambda


def test_moco_tracks_the_gram_matrix_with_a_decaying_rate() -> None:
    g1, g2, g3 = (torch.diag(torch.tensor(d, dtype=F64)) for d in ([1.0, 4.0], [9.0, 1.0], [4.0, 4.0]))
    balancer = MoCo(beta=0.5, beta_sigma=1.0, normalize=False)
    for gram in (g1, g2, g3):
        balancer(gram, torch.ones(2, dtype=F64))
    m2 = g1 - 0.25 * (g1 - g2)  # starts at G_1; rate 0.5 / 2 at step 2, 0.5 / 3 at step 3
    torch.testing.assert_close(balancer.tracked, m2 - (0.5 / 3) * (m2 - g3))
    assert int(balancer.step) == 3


def test_moco_matches_libmtl_and_round_trips() -> None:
    """LibMTL's MoCo (softmax step, y tracked in full) with beta_k = 1, restated in numpy."""
    losses = torch.tensor([0.7, 1.3, 0.4], dtype=F64)
    balancer = MoCo(beta=1.0, beta_sigma=0.0, gamma=0.1, gamma_sigma=0.5, rho=0.0, projection="softmax")
    lam = np.full(3, 1 / 3)
    for step, jac in enumerate(jacobians(3), start=1):
        grads = jac.numpy() / (np.linalg.norm(jac.numpy(), axis=1, keepdims=True) + 1e-8) * losses.numpy()[:, None]
        y = grads.copy()  # y - 1 * (y - grads)
        z = lam - 0.1 / step**0.5 * (y @ y.T) @ lam
        lam = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        w = balancer(jac @ jac.T, losses)
        torch.testing.assert_close(w @ jac, torch.from_numpy(y.T @ lam))
    restored = MoCo(beta=1.0, beta_sigma=0.0, projection="softmax")
    restored.load_state_dict(balancer.state_dict())
    jac = jacobians(4)[-1]
    torch.testing.assert_close(restored(jac @ jac.T, losses), balancer(jac @ jac.T, losses))


# --- SDMGrad ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_sdmgrad_without_regulariser_is_mgda_and_with_a_large_one_the_mean(seed: int) -> None:
    jac = conflicting(seed)
    gram, ones = jac @ jac.T, torch.ones(4, dtype=F64)
    converged = SDMGrad(lam=0.0, n_iter=5000, lr=0.05, momentum=0.5)(gram, ones)
    torch.testing.assert_close(converged, MGDA()(gram, ones), atol=1e-6, rtol=0)
    torch.testing.assert_close(SDMGrad(lam=1e6)(gram, ones), torch.full((4,), 0.25, dtype=F64), atol=1e-5, rtol=0)


def test_sdmgrad_weights_solve_the_regularised_min_norm_problem() -> None:
    jac = conflicting(2)
    gram = jac @ jac.T
    balancer = SDMGrad(lam=0.3, n_iter=5000, lr=0.05)
    w = balancer(gram, torch.ones(4, dtype=F64))
    exact = simplex_qp(gram, 0.3 * gram.mean(1))  # argmin 0.5 ||J^T w + 0.3 g0||^2 on the simplex
    torch.testing.assert_close(balancer.weights, exact, atol=1e-6, rtol=0)
    torch.testing.assert_close(w, (exact + 0.3 / 4) / 1.3, atol=1e-6, rtol=0)


def test_sdmgrad_matches_libmtl_and_round_trips() -> None:
    """LibMTL's SDMGrad (SGD lr 5, momentum 0.5, 20 projected steps, warm start) with one
    sample for all three gradient sets, restated in numpy."""
    lam_reg, w = 0.3, np.full(3, 1 / 3)
    balancer = SDMGrad()
    ones = torch.ones(3, dtype=F64)
    for jac in jacobians(3):
        g = jac.numpy()
        gg = g @ g.T
        gg = gg / (np.mean(np.sqrt(np.maximum(np.diag(gg), 0.0))) ** 2 + 1e-8)
        buf = None
        for _ in range(20):
            grad = gg @ w + lam_reg * gg.mean(1)
            buf = grad if buf is None else 0.5 * buf + grad
            w = libmtl_projection(w - 5.0 * buf)
        update = (w @ g + lam_reg * g.mean(0)) / (1 + lam_reg)
        torch.testing.assert_close(balancer(jac @ jac.T, ones) @ jac, torch.from_numpy(update))
    restored = SDMGrad()
    restored.load_state_dict(balancer.state_dict())
    torch.testing.assert_close(restored.weights, balancer.weights)


# --- MoDo -------------------------------------------------------------------------------


def test_modo_takes_one_projected_step() -> None:
    balancer = MoDo(gamma=0.1, rho=0.0)
    # (0.5, 0.5) - 0.1 * G (0.5, 0.5) = (0.45, 0.3); the projection adds 0.125 to each
    w = balancer(torch.diag(torch.tensor([1.0, 4.0], dtype=F64)), torch.ones(2, dtype=F64))
    torch.testing.assert_close(w, torch.tensor([0.575, 0.425], dtype=F64))
    torch.testing.assert_close(balancer.weights, w)


def test_modo_matches_libmtl_and_round_trips() -> None:
    """LibMTL's MoDo with the same sample as all three, restated in numpy."""
    balancer, lam = MoDo(gamma=0.05, rho=0.1), np.full(3, 1 / 3)
    for jac in jacobians(4):
        g = jac.numpy()
        lam = libmtl_projection(lam - 0.05 * (g @ (g.T @ lam) + 0.1 * lam))
        torch.testing.assert_close(balancer(jac @ jac.T, torch.ones(3, dtype=F64)) @ jac, torch.from_numpy(lam @ g))
    restored = MoDo(gamma=0.05, rho=0.1)
    restored.load_state_dict(balancer.state_dict())
    jac = jacobians(5)[-1]
    torch.testing.assert_close(restored(jac @ jac.T, torch.ones(3, dtype=F64)), balancer(jac @ jac.T, torch.ones(3, dtype=F64)))


# --- CR-MOGM ----------------------------------------------------------------------------


def test_cr_mogm_is_the_moving_average_of_the_base_weights() -> None:
    grams = [jac @ jac.T for jac in jacobians(3)]
    ones = torch.ones(3, dtype=F64)
    b1, b2, b3 = (MGDA()(gram, ones) for gram in grams)
    balancer = CRMOGM(alpha=0.8)
    for gram in grams:
        w = balancer(gram, ones)
    torch.testing.assert_close(w, 0.8**2 * b1 + 0.8 * 0.2 * b2 + 0.2 * b3)
    torch.testing.assert_close(CRMOGM(alpha=0.0)(grams[0], ones), b1)


def test_cr_mogm_steps_a_stateful_base_once_per_step_and_round_trips() -> None:
    grams = [jac @ jac.T for jac in jacobians(3)]
    ones = torch.ones(3, dtype=F64)
    alone, balancer = MoDo(gamma=0.1), CRMOGM(MoDo(gamma=0.1), alpha=0.5)
    expected = None
    for gram in grams:
        base = alone(gram, ones)
        expected = base if expected is None else 0.5 * expected + 0.5 * base
        torch.testing.assert_close(balancer(gram, ones), expected)
    restored = CRMOGM(MoDo(gamma=0.1), alpha=0.5)
    restored.load_state_dict(balancer.state_dict())
    torch.testing.assert_close(restored.base.weights, alone.weights)
    torch.testing.assert_close(restored(grams[0], ones), balancer(grams[0], ones))


def test_stochastic_methods_representation_flags() -> None:
    assert not any(cls.exact_with_representation for cls in (MoCo, SDMGrad, MoDo))
    assert CRMOGM().exact_with_representation and not CRMOGM(MoDo()).exact_with_representation
