from __future__ import annotations

import pytest
import torch

from mtl.balancers import StaticWeights, Sum


def test_sum_adds_losses_and_records_unit_weights() -> None:
    losses = {"a": torch.tensor(1.5), "b": torch.tensor(2.0)}
    balancer = Sum()
    assert balancer(losses).item() == pytest.approx(3.5)
    assert balancer.last_weights == {"a": 1.0, "b": 1.0}


def test_static_weights_with_default_and_gradients() -> None:
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(4.0, requires_grad=True)
    balancer = StaticWeights({"a": 0.25}, default=2.0)
    total = balancer({"a": a, "b": b})
    assert total.item() == pytest.approx(0.25 * 2.0 + 2.0 * 4.0)
    total.backward()
    assert a.grad.item() == pytest.approx(0.25) and b.grad.item() == pytest.approx(2.0)


def test_negative_weight_is_refused() -> None:
    with pytest.raises(ValueError, match=r"must be >= 0; got \{'a': -1.0\}"):
        StaticWeights({"a": -1.0})
