"""Loss weighting methods: hand-computed values, state round trips, subsets of tasks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mtl.balancers.dwa import DynamicWeightAverage
from mtl.balancers.famo import FAMO
from mtl.balancers.geometric_mean import GeometricMean
from mtl.balancers.rlw import RandomLossWeighting
from mtl.balancers.stch import STCH
from mtl.balancers.uncertainty import UncertaintyWeighting
from mtl.training.distributed import add_by_key


def leaves(**values: float) -> dict[str, torch.Tensor]:
    return {name: torch.tensor(value, requires_grad=True) for name, value in values.items()}


def const(**values: float) -> dict[str, torch.Tensor]:
    return {name: torch.tensor(value) for name, value in values.items()}


# -- geometric mean ---------------------------------------------------------------------
def test_geometric_mean_of_2_and_8_is_4_with_effective_weights() -> None:
    losses = leaves(a=2.0, b=8.0)
    balancer = GeometricMean()
    total = balancer(losses)
    assert total.item() == pytest.approx(4.0)
    total.backward()
    # dL/dL_t = L / (T L_t): 4 / (2 * 2) = 1 and 4 / (2 * 8) = 0.25
    assert losses["a"].grad.item() == pytest.approx(1.0)
    assert losses["b"].grad.item() == pytest.approx(0.25)
    assert balancer.last_weights == pytest.approx({"a": 1.0, "b": 0.25})


def test_geometric_mean_of_one_task_is_its_loss_and_refuses_non_positive() -> None:
    balancer = GeometricMean()
    assert balancer(const(a=3.0)).item() == pytest.approx(3.0)
    assert balancer.last_weights == pytest.approx({"a": 1.0})
    with pytest.raises(ValueError, match=r"tasks \['b'\] have losses \{'b': 0.0\}"):
        balancer(const(a=1.0, b=0.0))
    assert math.isnan(balancer(const(a=1.0, b=float("nan"))).item())  # left to the module's NaN guard


# -- uncertainty ------------------------------------------------------------------------
def test_uncertainty_value_at_known_log_variances() -> None:
    balancer = UncertaintyWeighting(tasks=["a", "b"])
    with torch.no_grad():
        balancer.log_vars["b"].fill_(math.log(2.0))
    # exp(-0) * 1 + 0 + exp(-log 2) * 4 + log 2 = 1 + 2 + 0.693147
    assert balancer(const(a=1.0, b=4.0)).item() == pytest.approx(3.0 + math.log(2.0), abs=1e-6)
    assert balancer.last_weights == pytest.approx({"a": 1.0, "b": 0.5})

    regression = UncertaintyWeighting(tasks=["a", "b"], regression_tasks=["b"])
    with torch.no_grad():
        regression.log_vars["b"].fill_(math.log(2.0))
    # 1 + 0.5 * exp(-log 2) * 4 + 0.5 * log 2 = 2 + 0.346574
    assert regression(const(a=1.0, b=4.0)).item() == pytest.approx(2.0 + 0.5 * math.log(2.0), abs=1e-6)
    assert regression.last_weights == pytest.approx({"a": 1.0, "b": 0.25})


@pytest.mark.parametrize("regression", [[], ["a", "b"]])
def test_uncertainty_log_variances_descend_to_log_loss(regression: list[str]) -> None:
    balancer = UncertaintyWeighting(tasks=["a", "b"], init_log_var=0.5, regression_tasks=regression)
    optimizer = torch.optim.SGD(balancer.parameters(), lr=0.2)
    for _ in range(300):
        optimizer.zero_grad()
        balancer(const(a=1.0, b=4.0)).backward()
        optimizer.step()
    assert balancer.log_vars["a"].item() == pytest.approx(0.0, abs=1e-4)
    assert balancer.log_vars["b"].item() == pytest.approx(math.log(4.0), abs=1e-4)


def test_uncertainty_setup_state_round_trip_and_subset() -> None:
    balancer = UncertaintyWeighting(init_log_var=0.25)
    with pytest.raises(KeyError, match=r"no log-variance for tasks \['a'\].*setup_tasks"):
        balancer(const(a=1.0))
    balancer.setup_tasks(["a", "b"])
    first = balancer.log_vars["a"]
    balancer.setup_tasks(["a", "b"])
    assert balancer.log_vars["a"] is first and first.item() == pytest.approx(0.25)
    with torch.no_grad():
        balancer.log_vars["b"].fill_(-1.5)

    restored = UncertaintyWeighting()  # no tasks yet: loading creates them
    restored.load_state_dict(balancer.state_dict())
    assert sorted(restored.state_dict()) == ["log_vars.a", "log_vars.b"]
    assert restored.log_vars["b"].item() == pytest.approx(-1.5)

    total = restored(const(b=2.0))  # a step with one task only
    assert total.item() == pytest.approx(math.exp(1.5) * 2.0 - 1.5)
    total.backward()
    assert restored.log_vars["a"].grad is None
    assert restored.log_vars["b"].grad.item() == pytest.approx(1.0 - math.exp(1.5) * 2.0)

    with pytest.raises(ValueError, match=r"regression_tasks \['c'\] are not tasks"):
        UncertaintyWeighting(tasks=["a"], regression_tasks=["c"])


# -- dynamic weight average -------------------------------------------------------------
def dwa_after_two_epochs() -> DynamicWeightAverage:
    balancer = DynamicWeightAverage(temperature=2.0)
    for a, b in [(2.0, 1.0), (4.0, 1.0)]:  # epoch 1: means a=3, b=1
        balancer(const(a=a, b=b))
        assert balancer.last_weights == {"a": 1.0, "b": 1.0}
    balancer.epoch_end()
    for a, b in [(1.0, 0.5), (2.0, 1.5)]:  # epoch 2: means a=1.5, b=1
        balancer(const(a=a, b=b))
        assert balancer.last_weights == {"a": 1.0, "b": 1.0}
    balancer(const(a=float("nan"), b=1.0))  # a skipped NaN step does not enter the mean
    return balancer


def test_dwa_weights_after_two_epochs_by_hand() -> None:
    balancer = dwa_after_two_epochs()
    balancer.epoch_end()
    assert balancer.history == [{"a": 3.0, "b": 1.0}, {"a": 1.5, "b": pytest.approx(1.0)}]
    # r = (1.5 / 3, 1 / 1) = (0.5, 1); w = 2 softmax(r / 2) -> w_a = 2 / (1 + e^0.25)
    w_a, w_b = 2 / (1 + math.exp(0.25)), 2 / (1 + math.exp(-0.25))
    assert (w_a, w_b) == pytest.approx((0.875647, 1.124353), abs=1e-6)
    total = balancer(leaves(a=2.0, b=3.0))
    assert total.item() == pytest.approx(w_a * 2.0 + w_b * 3.0)
    assert balancer.last_weights == pytest.approx({"a": w_a, "b": w_b})
    # a subset step keeps the epoch's weights; a task without two epochs of history weighs 1
    balancer(const(a=1.0))
    assert balancer.last_weights == pytest.approx({"a": w_a})
    assert balancer(const(c=5.0)).item() == pytest.approx(5.0)


def test_dwa_state_round_trip_mid_epoch() -> None:
    balancer = dwa_after_two_epochs()
    restored = DynamicWeightAverage(temperature=2.0)
    restored.load_state_dict(balancer.state_dict())
    for weighting in (balancer, restored):
        weighting(const(a=3.0, b=1.0))  # epoch 2 becomes a=2, b=1
        weighting.epoch_end()
    # r = (2 / 3, 1); w_a = 2 / (1 + e^((1 - 2/3) / 2))
    assert restored.weights == pytest.approx(balancer.weights)
    assert restored.weights["a"] == pytest.approx(2 / (1 + math.exp(1 / 6)))
    per_rank = [{"sums": {"a": 2.0}, "counts": {"a": 1.0}}, {"sums": {"a": 4.0, "b": 1.0}, "counts": {"a": 2.0, "b": 1.0}}]
    assert add_by_key(per_rank) == {"sums": {"a": 6.0, "b": 1.0}, "counts": {"a": 3.0, "b": 1.0}}


# -- random loss weighting --------------------------------------------------------------
def test_rlw_normal_is_softmax_of_standard_normal_and_reproducible() -> None:
    losses = const(a=1.0, b=2.0, c=4.0)
    balancer = RandomLossWeighting(seed=7)
    total = balancer(losses)
    expected = F.softmax(torch.randn(3, generator=torch.Generator().manual_seed(7)), dim=0)
    assert list(balancer.last_weights.values()) == pytest.approx(expected.tolist())
    assert total.item() == pytest.approx(float(expected @ torch.tensor([1.0, 2.0, 4.0])))

    again = RandomLossWeighting(seed=7)
    again(losses)
    assert again.last_weights == balancer.last_weights
    other = RandomLossWeighting(seed=8)
    other(losses)
    assert other.last_weights != balancer.last_weights

    torch.manual_seed(3)
    RandomLossWeighting()(losses)  # no seed: torch's global generator
    unseeded = RandomLossWeighting()
    torch.manual_seed(3)
    unseeded(losses)
    torch.manual_seed(3)
    assert list(unseeded.last_weights.values()) == pytest.approx(F.softmax(torch.randn(3), dim=0).tolist())


@pytest.mark.parametrize("distribution", ["normal", "dirichlet", "uniform"])
def test_rlw_weights_are_a_distribution_over_present_tasks(distribution: str) -> None:
    balancer = RandomLossWeighting(distribution=distribution, seed=0)  # type: ignore[arg-type]
    for _ in range(20):
        balancer(const(a=1.0, b=1.0, c=1.0, d=1.0))
        weights = list(balancer.last_weights.values())
        assert min(weights) > 0 and sum(weights) == pytest.approx(1.0)
    assert balancer(const(b=3.0)).item() == pytest.approx(3.0)  # one present task weighs 1
    assert balancer.last_weights == pytest.approx({"b": 1.0})


def test_rlw_dirichlet_draw_and_generator_state_round_trip() -> None:
    balancer = RandomLossWeighting(distribution="dirichlet", seed=5)
    balancer(const(a=1.0, b=1.0))
    e = torch.empty(2).exponential_(1.0, generator=torch.Generator().manual_seed(5))
    assert list(balancer.last_weights.values()) == pytest.approx((e / e.sum()).tolist())

    restored = RandomLossWeighting(distribution="dirichlet", seed=5)
    restored.load_state_dict(balancer.state_dict())
    balancer(const(a=1.0, b=1.0))
    restored(const(a=1.0, b=1.0))
    assert restored.last_weights == balancer.last_weights
    assert restored.last_weights != pytest.approx((e / e.sum()).tolist())  # the second draw, not the first


# -- FAMO -------------------------------------------------------------------------------
def test_famo_first_step_by_hand() -> None:
    losses = leaves(a=1.0, b=4.0)
    balancer = FAMO()
    total = balancer(losses)
    # z = (1/2, 1/2); c = 0.5 / 1 + 0.5 / 4 = 0.625; loss = 0.8 log 1 + 0.8 log 4
    assert total.item() == pytest.approx(0.8 * math.log(4.0), rel=1e-6)
    total.backward()
    assert losses["a"].grad.item() == pytest.approx(0.8, rel=1e-6)  # w_t = z_t / (c L_t)
    assert losses["b"].grad.item() == pytest.approx(0.2, rel=1e-6)
    assert balancer.last_weights == pytest.approx({"a": 0.8, "b": 0.2}, rel=1e-6)


def test_famo_task_whose_loss_fell_less_gains_weight() -> None:
    balancer = FAMO(lr=0.025)
    balancer(const(a=1.0, b=1.0))
    balancer(const(a=0.5, b=0.9))  # a fell by log 2, b only by log(1/0.9)
    # first Adam step moves every logit by lr * sign(gradient): xi = (-0.025, +0.025)
    assert balancer.logits == pytest.approx({"a": -0.025, "b": 0.025}, abs=1e-6)
    z = balancer.task_weights()
    assert z["b"] == pytest.approx(1 / (1 + math.exp(-0.05)), abs=1e-6) and sum(z.values()) == pytest.approx(1.0)
    assert sum(balancer.last_weights.values()) == pytest.approx(1.0)


class OfficialFAMO:
    """The official update (Cranial-XIX/FAMO ``famo.py``), with torch.optim.Adam."""

    def __init__(self, n: int, lr: float, gamma: float) -> None:
        self.w = torch.zeros(n, dtype=torch.float64, requires_grad=True)
        self.opt = torch.optim.Adam([self.w], lr=lr, weight_decay=gamma)

    def weighted(self, losses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.prev = losses
        z = F.softmax(self.w, -1).detach()
        d = losses + 1e-8
        c = (z / d).sum()
        return (d.log() * z / c).sum(), z / (c * d)

    def update(self, curr: torch.Tensor) -> None:
        delta = (self.prev + 1e-8).log() - (curr + 1e-8).log()
        with torch.enable_grad():
            grad = torch.autograd.grad(F.softmax(self.w, -1), self.w, grad_outputs=delta)[0]
        self.opt.zero_grad()
        self.w.grad = grad
        self.opt.step()


def test_famo_matches_the_official_update_and_round_trips() -> None:
    sequence = torch.rand(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3 + 0.1
    reference = OfficialFAMO(3, lr=0.1, gamma=0.01)
    balancer = FAMO(lr=0.1, weight_decay=0.01)
    for step, row in enumerate(sequence):
        if step > 0:
            reference.update(row)  # official: after the step; here: at the start of the next call
        expected_total, expected_weights = reference.weighted(row)
        total = balancer(dict(zip("abc", row.clone())))
        assert total.item() == pytest.approx(expected_total.item(), rel=1e-9)
        assert list(balancer.last_weights.values()) == pytest.approx(expected_weights.tolist(), rel=1e-9)
        if step == 3:
            restored = FAMO(lr=0.1, weight_decay=0.01)
            restored.load_state_dict(balancer.state_dict())
    assert list(balancer.task_weights().values()) == pytest.approx(F.softmax(reference.w, -1).tolist(), rel=1e-9)
    for row in sequence[4:]:
        restored(dict(zip("abc", row.clone())))
    assert restored.logits == balancer.logits


def test_famo_subset_steps_and_bad_losses() -> None:
    balancer = FAMO()
    balancer(const(a=1.0, b=1.0))
    single = balancer(leaves(a=2.0))  # one task: no logit update, its gradient is its own
    assert balancer.logits == {"a": 0.0, "b": 0.0}
    assert single.item() == pytest.approx(2.0 * math.log(2.0), rel=1e-6)  # D log D, gradient 1
    assert balancer.last_weights == pytest.approx({"a": 1.0})
    balancer(const(a=1.0, b=2.0, c=1.0))  # only a was in the previous step: no update
    assert balancer.logits == {"a": 0.0, "b": 0.0, "c": 0.0}
    balancer(const(a=0.5, b=2.0, c=1.0))  # a fell, b and c did not: a loses weight
    assert balancer.logits["a"] < 0 < balancer.logits["b"] and balancer.logits["b"] == pytest.approx(balancer.logits["c"])
    before = dict(balancer.logits)
    assert math.isnan(balancer(const(a=float("nan"), b=1.0)).item())
    assert balancer.logits == before
    with pytest.raises(ValueError, match=r"tasks \['b'\] have losses \{'b': 0.5\} at or below min_loss=1.0"):
        FAMO(min_loss=1.0)(const(a=2.0, b=0.5))


# -- STCH -------------------------------------------------------------------------------


def stch_after_warmup(mu: float = 0.5) -> STCH:
    """Warm-up epoch 0 with losses (2, 4) and (4, 2): the nadir point is (3, 3)."""
    balancer = STCH(mu=mu, warmup_epoch=0)
    losses = leaves(a=2.0, b=4.0)
    total = balancer(losses)
    total.backward()
    assert total.item() == pytest.approx(math.log(2.0) + math.log(4.0))  # warm-up: sum of log-losses
    assert (losses["a"].grad.item(), losses["b"].grad.item()) == pytest.approx((0.5, 0.25))
    balancer(const(a=4.0, b=2.0))
    balancer.epoch_end()
    assert balancer.nadir == {"a": 3.0, "b": 3.0}
    return balancer


def test_stch_smooth_max_by_hand() -> None:
    balancer = stch_after_warmup(mu=0.5)
    losses = leaves(a=6.0, b=3.0)
    total = balancer(losses)
    total.backward()
    # r = (log 2, 0), r / mu = (2 log 2, 0): softmax (4/5, 1/5); value K mu log(4 + 1)
    assert total.item() == pytest.approx(math.log(5.0))
    # w_t = K softmax_t / L_t = (2 * 0.8 / 6, 2 * 0.2 / 3)
    assert (losses["a"].grad.item(), losses["b"].grad.item()) == pytest.approx((0.8 / 3, 0.4 / 3))
    assert balancer.last_weights == pytest.approx({"a": 0.8 / 3, "b": 0.4 / 3})
    # LibMTL's loss (the largest term subtracted, not added back) has the same gradient
    libmtl = leaves(a=6.0, b=3.0)
    r = torch.log(torch.stack([libmtl["a"] / 3.0, libmtl["b"] / 3.0]) + 1e-20)
    (0.5 * torch.log(torch.exp((r - r.detach().max()) / 0.5).sum()) * 2).backward()
    assert (libmtl["a"].grad.item(), libmtl["b"].grad.item()) == pytest.approx((0.8 / 3, 0.4 / 3))
    # a small mu is close to K times the largest log-ratio
    sharp = stch_after_warmup(mu=1e-3)
    assert sharp(const(a=6.0, b=3.0)).item() == pytest.approx(2 * math.log(2.0), abs=1e-2)


def test_stch_warmup_epochs_subsets_and_round_trip() -> None:
    balancer = STCH(mu=1.0, warmup_epoch=1)
    balancer(const(a=1.0, b=1.0))
    balancer.epoch_end()
    assert balancer.nadir == {}  # epoch 0 is warm-up only
    balancer(const(a=2.0))
    balancer(const(a=float("nan"), b=8.0))  # a skipped step adds nothing
    balancer.epoch_end()
    assert balancer.nadir == {"a": 2.0}  # b was not seen in epoch 1
    restored = STCH(mu=1.0, warmup_epoch=1)
    restored.load_state_dict(balancer.state_dict())
    for weighting in (balancer, restored):
        total = weighting(const(a=4.0, b=2.0))  # a: smooth max of one term, K = 1; b: warm-up term
        assert total.item() == pytest.approx(math.log(2.0) + math.log(2.0))
        assert weighting.last_weights == pytest.approx({"a": 0.25, "b": 0.5})
        weighting.epoch_end()
        assert weighting.nadir == {"a": 2.0, "b": 2.0}
    with pytest.raises(ValueError, match="mu > 0"):
        STCH(mu=0.0)
