"""ParameterDistance: hand-computed values and gradients, pulling encoders together, errors."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from mtl.encoders import LSTMEncoder
from mtl.sharing import Alignment, ParameterDistance


def linear(weight: list[float], bias: float) -> nn.Linear:
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weight]))
        layer.bias.fill_(bias)
    return layer


def pair() -> dict[str, nn.Linear]:
    # θ_a = (w 1, 2 | b 0), θ_b = (w 3, 0 | b 1); θ̄ = (2, 1 | 0.5); θ_a - θ_b = (-2, 2 | -1)
    return {"a": linear([1.0, 2.0], 0.0), "b": linear([3.0, 0.0], 1.0)}


def lstm(seed: int) -> LSTMEncoder:
    torch.manual_seed(seed)
    return LSTMEncoder(vocab_size=20, embed_dim=8, hidden_dim=8, dropout=0.0)


def raw_distance(a: nn.Module, b: nn.Module) -> float:
    return sum(float((p.detach() - q.detach()).pow(2).sum()) for p, q in zip(a.parameters(), b.parameters()))


def test_is_an_alignment_needing_separate_encoders() -> None:
    penalty = ParameterDistance()
    assert isinstance(penalty, Alignment)
    assert ParameterDistance.needs_separate_encoders is True
    assert math.isnan(penalty.last_value)


def test_mean_kind_by_hand() -> None:
    # sum_t ||θ_t - θ̄||² = 2 * (1 + 1 + 0.25) = 4.5
    value = ParameterDistance(weight=1.0, kind="mean")(pair(), {})
    assert value.item() == pytest.approx(4.5)


def test_pairwise_kind_by_hand() -> None:
    # ||θ_a - θ_b||² = 4 + 4 + 1 = 9
    value = ParameterDistance(weight=1.0, kind="pairwise")(pair(), {})
    assert value.item() == pytest.approx(9.0)


def test_weight_scales_the_penalty_and_last_value_is_unweighted() -> None:
    penalty = ParameterDistance(weight=0.5, kind="pairwise")
    assert penalty(pair(), {}).item() == pytest.approx(4.5)
    assert penalty.last_value == pytest.approx(9.0)


def test_three_encoders_by_hand_and_pairwise_is_k_times_mean() -> None:
    encoders = {**pair(), "c": linear([2.0, 1.0], 2.0)}
    # θ̄ = (2, 1 | 1); deviations: a (-1, 1 | -1) -> 3, b (1, -1 | 0) -> 2, c (0, 0 | 1) -> 1
    assert ParameterDistance(weight=1.0, kind="mean")(encoders, {}).item() == pytest.approx(6.0)
    # pairs: a-b 9, a-c (1+1+4) 6, b-c (1+1+1) 3
    assert ParameterDistance(weight=1.0, kind="pairwise")(encoders, {}).item() == pytest.approx(18.0)


def test_mean_kind_gradient_is_two_times_deviation_from_mean() -> None:
    encoders = pair()
    ParameterDistance(weight=1.0, kind="mean")(encoders, {}).backward()
    # ∂/∂θ_a = 2 (θ_a - θ̄) = 2 * (-1, 1 | -0.5); θ̄ is not detached, the extra term cancels
    assert encoders["a"].weight.grad[0].tolist() == pytest.approx([-2.0, 2.0])
    assert encoders["a"].bias.grad.tolist() == pytest.approx([-1.0])
    assert encoders["b"].weight.grad[0].tolist() == pytest.approx([2.0, -2.0])
    assert encoders["b"].bias.grad.tolist() == pytest.approx([1.0])


def test_pairwise_kind_gradient_by_hand() -> None:
    encoders = pair()
    ParameterDistance(weight=1.0, kind="pairwise")(encoders, {}).backward()
    assert encoders["a"].weight.grad[0].tolist() == pytest.approx([-4.0, 4.0])  # 2 (θ_a - θ_b)
    assert encoders["a"].bias.grad.tolist() == pytest.approx([-2.0])


def test_tasks_sharing_one_encoder_count_once() -> None:
    a, b = pair().values()
    value = ParameterDistance(weight=1.0)({"x": a, "y": a, "z": b}, {})
    assert value.item() == pytest.approx(4.5)


def test_include_embeddings_false_skips_embedding_tables() -> None:
    first = lstm(0)
    second = copy.deepcopy(first)
    with torch.no_grad():
        second.embedding.embedding.weight.add_(1.0)  # only the embedding table differs
    encoders = {"a": first, "b": second}
    assert ParameterDistance(weight=1.0, include_embeddings=False)(encoders, {}).item() == 0.0
    table = first.embedding.embedding.weight.numel()
    # two encoders, each 0.5 away from the mean in every entry: 2 * 0.25 * entries
    assert ParameterDistance(weight=1.0)(encoders, {}).item() == pytest.approx(0.5 * table)


def test_sgd_on_the_penalty_alone_pulls_two_lstm_encoders_together() -> None:
    encoders = {"a": lstm(0), "b": lstm(1)}
    penalty = ParameterDistance(weight=1.0)
    params = [p for e in encoders.values() for p in e.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.1)
    distances = []
    for _ in range(5):
        optimizer.zero_grad()
        penalty(encoders, {}).backward()
        optimizer.step()
        distances.append(raw_distance(encoders["a"], encoders["b"]))
    assert all(later < earlier for earlier, later in zip(distances, distances[1:]))
    # each step scales θ_s - θ̄ by (1 - 2 * lr) = 0.8, so the distance by 0.64
    assert distances[-1] / distances[0] == pytest.approx(0.64**4, rel=1e-3)


def _train(weight: float, steps: int = 8) -> float:
    """Two LSTM encoders, each fitted to its own target; returns their final distance."""
    encoders = {"a": lstm(0), "b": lstm(1)}
    penalty = ParameterDistance(weight=weight)
    optimizer = torch.optim.SGD([p for e in encoders.values() for p in e.parameters()], lr=0.1)
    generator = torch.Generator().manual_seed(0)
    targets = {"a": 1.0, "b": -1.0}
    for _ in range(steps):
        optimizer.zero_grad()
        ids = torch.randint(1, 20, (4, 5), generator=generator)
        mask = torch.ones(4, 5, dtype=torch.bool)
        outputs = {t: e(ids, mask) for t, e in encoders.items()}
        task_loss = sum((out.pooled - targets[t]).pow(2).mean() for t, out in outputs.items())
        (task_loss + penalty(encoders, outputs)).backward()
        optimizer.step()
    return raw_distance(encoders["a"], encoders["b"])


def test_training_with_penalty_keeps_encoders_closer_than_without() -> None:
    start = raw_distance(lstm(0), lstm(1))
    without, with_penalty = _train(weight=0.0), _train(weight=1.0)
    assert with_penalty < 0.5 * without
    assert with_penalty < 0.5 * start


def test_one_shared_encoder_is_an_error() -> None:
    shared = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="at least 2 distinct encoders"):
        ParameterDistance()({"a": shared, "b": shared}, {})


def test_mismatched_shapes_name_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"parameter 'weight' has shape \(1, 2\).*\(1, 3\)"):
        ParameterDistance()({"a": nn.Linear(2, 1), "b": nn.Linear(3, 1)}, {})


def test_mismatched_parameter_names_are_an_error() -> None:
    with pytest.raises(ValueError, match="different parameters"):
        ParameterDistance()({"a": nn.Linear(2, 1), "b": nn.Sequential(nn.Linear(2, 1))}, {})


def test_bad_configuration_is_an_error() -> None:
    with pytest.raises(ValueError, match="kind="):
        ParameterDistance(kind="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight="):
        ParameterDistance(weight=-1.0)
