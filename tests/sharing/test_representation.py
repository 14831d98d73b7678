"""RepresentationAlignment: hand-computed moments, CORAL and MMD; pairs, masking, errors."""

from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders import EncoderOutput, LSTMEncoder
from mtl.sharing import Alignment, RepresentationAlignment

KINDS = ["moments", "coral", "mmd"]


def pooled(x: torch.Tensor) -> EncoderOutput:
    """An output whose ``pooled`` is ``x (B, D)`` (hidden: one token per row)."""
    return EncoderOutput(hidden=x[:, None, :], pooled=x, mask=torch.ones(x.shape[0], 1, dtype=torch.bool))


def align(kind: str, **outputs: torch.Tensor) -> float:
    penalty = RepresentationAlignment(weight=1.0, kind=kind)  # type: ignore[arg-type]
    return penalty({}, {task: pooled(x) for task, x in outputs.items()}).item()


# 2-D toy: x has mean (1, 0), variances (1, 0); y has mean (1, 2), variances (0, 1)
X = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
Y = torch.tensor([[1.0, 1.0], [1.0, 3.0]])


def test_is_an_alignment_for_a_shared_encoder() -> None:
    assert isinstance(RepresentationAlignment(), Alignment)
    assert RepresentationAlignment.needs_separate_encoders is False


def test_moments_by_hand() -> None:
    # ||μ_x - μ_y||² = 0 + 4; ||σ²_x - σ²_y||² = 1 + 1
    assert align("moments", a=X, b=Y) == pytest.approx(6.0)


def test_coral_by_hand() -> None:
    # unbiased covariances (n = 2): C_x = [[2, 0], [0, 0]], C_y = [[0, 0], [0, 2]]
    # ||C_x - C_y||_F² = 4 + 4 = 8; / (4 * D²) = 8 / 16
    assert align("coral", a=X, b=Y) == pytest.approx(0.5)


def test_mmd_by_hand_on_two_points() -> None:
    # z = (0, 1): squared distances [[0, 1], [1, 0]], mean 0.5, so σ² = 0.5 for bandwidth 1
    # k(x, y) = exp(-1 / (2 * 0.5)) = e^-1; MMD² = k_xx + k_yy - 2 k_xy = 2 - 2 / e
    penalty = RepresentationAlignment(weight=1.0, kind="mmd", bandwidths=[1.0])
    value = penalty({}, {"a": pooled(torch.tensor([[0.0]])), "b": pooled(torch.tensor([[1.0]]))})
    assert value.item() == pytest.approx(2 - 2 / math.e)


@pytest.mark.parametrize("kind", KINDS)
def test_identical_inputs_give_zero(kind: str) -> None:
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert align(kind, a=x, b=x.clone()) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("kind", ["moments", "mmd"])
def test_shifted_inputs_give_a_positive_distance(kind: str) -> None:
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert align(kind, a=x, b=x + 1.0) > 0.01


def test_coral_sees_scale_but_not_shift() -> None:
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert align("coral", a=x, b=x + 1.0) == pytest.approx(0.0, abs=1e-6)
    assert align("coral", a=x, b=2.0 * x) > 0.01


def test_mmd_decreases_as_the_distributions_approach() -> None:
    generator = torch.Generator().manual_seed(0)
    x, noise = torch.randn(16, 4, generator=generator), torch.randn(16, 4, generator=generator)
    values = [align("mmd", a=x, b=noise + shift) for shift in (3.0, 2.0, 1.0, 0.5, 0.0)]
    assert all(later < earlier for earlier, later in zip(values, values[1:]))


def test_averages_over_task_pairs() -> None:
    z = torch.tensor([[5.0, 0.0], [5.0, 0.0]])  # mean (5, 0), variances (0, 0)
    # pairs: X-Y 6; X-Z 16 + 1; Y-Z (16 + 4) + 1
    assert align("moments", a=X, b=Y, c=z) == pytest.approx((6.0 + 17.0 + 21.0) / 3)


def test_fewer_than_two_tasks_give_zero() -> None:
    assert align("moments", a=X) == 0.0
    assert RepresentationAlignment()({}, {}).item() == 0.0


def test_weight_scales_and_last_value_is_unweighted() -> None:
    penalty = RepresentationAlignment(weight=0.1)
    assert penalty({}, {"a": pooled(X), "b": pooled(Y)}).item() == pytest.approx(0.6)
    assert penalty.last_value == pytest.approx(6.0)


def test_tokens_uses_only_real_token_rows() -> None:
    hidden = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]]])  # (1, 3, 2); last row is padding
    mask = torch.tensor([[True, True, False]])
    a = EncoderOutput(hidden=hidden, pooled=torch.zeros(1, 2), mask=mask)
    b = EncoderOutput(hidden=Y[None], pooled=torch.zeros(1, 2), mask=torch.ones(1, 2, dtype=torch.bool))
    assert RepresentationAlignment(weight=1.0, use="tokens")({}, {"a": a, "b": b}).item() == pytest.approx(6.0)
    assert RepresentationAlignment(weight=1.0, use="pooled")({}, {"a": a, "b": b}).item() == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_a_shared_encoder_even_with_batches_of_one(kind: str) -> None:
    torch.manual_seed(0)
    encoder = LSTMEncoder(vocab_size=20, embed_dim=8, hidden_dim=8, dropout=0.0)
    mask = torch.ones(1, 4, dtype=torch.bool)
    outputs = {"a": encoder(torch.tensor([[1, 2, 3, 4]]), mask), "b": encoder(torch.tensor([[5, 6, 7, 8]]), mask)}
    penalty = RepresentationAlignment(weight=1.0, kind=kind, use="tokens")  # type: ignore[arg-type]
    penalty({"a": encoder, "b": encoder}, outputs).backward()
    grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_mismatched_sizes_are_an_error() -> None:
    with pytest.raises(ValueError, match="different sizes"):
        align("moments", a=torch.zeros(2, 2), b=torch.zeros(2, 3))


def test_bad_configuration_is_an_error() -> None:
    with pytest.raises(ValueError, match="kind="):
        RepresentationAlignment(kind="kl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="use="):
        RepresentationAlignment(use="cls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bandwidths="):
        RepresentationAlignment(bandwidths=[1.0, 0.0])
