"""Pooler: each mode's value on hand-made states, padding ignored, gradients flow."""

from __future__ import annotations

import pytest
import torch

from mtl.encoders.output import EncoderOutput
from mtl.heads import Pooler

D = 8


def _encoded(hidden: torch.Tensor, mask: torch.Tensor) -> EncoderOutput:
    pooled = hidden[:, 0] * 2.0  # (B, D) distinguishable from every other mode
    return EncoderOutput(hidden=hidden, pooled=pooled, mask=mask)


@pytest.fixture
def states() -> tuple[EncoderOutput, dict[str, torch.Tensor]]:
    """Example 0 has 4 real tokens, example 1 has 2; padding holds huge garbage values so
    any mode that reads it gives a visibly wrong answer."""
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, D)  # (B, T, D)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    hidden = hidden.masked_fill(~mask.unsqueeze(-1), 1000.0)
    token_type_ids = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])  # pad tails are 1
    return _encoded(hidden, mask), {"attention_mask": mask, "token_type_ids": token_type_ids}


def test_encoder_mode_returns_pooled(states) -> None:
    encoded, batch = states
    assert torch.equal(Pooler(D, "encoder")(encoded, batch), encoded.pooled)


def test_mean_ignores_padding(states) -> None:
    encoded, batch = states
    out = Pooler(D, "mean")(encoded, batch)
    h = encoded.hidden
    assert torch.allclose(out[0], h[0, :4].mean(0))
    assert torch.allclose(out[1], h[1, :2].mean(0))


def test_max_ignores_padding_even_when_real_states_are_negative() -> None:
    hidden = -torch.ones(1, 3, D)
    hidden[0, 1] = -0.5
    hidden[0, 2] = 0.0  # zero padding must not win the max
    mask = torch.tensor([[True, True, False]])
    out = Pooler(D, "max")(_encoded(hidden, mask), {"attention_mask": mask})
    assert torch.allclose(out, torch.full((1, D), -0.5))


def test_max_matches_real_tokens(states) -> None:
    encoded, batch = states
    out = Pooler(D, "max")(encoded, batch)
    assert torch.allclose(out[1], encoded.hidden[1, :2].amax(0))


def test_first_takes_first_real_token(states) -> None:
    encoded, batch = states
    assert torch.equal(Pooler(D, "first")(encoded, batch), encoded.hidden[:, 0])


def test_pair_is_u_v_absdiff_product_over_real_tokens(states) -> None:
    encoded, batch = states
    pooler = Pooler(D, "pair")
    out = pooler(encoded, batch)
    h = encoded.hidden
    u0, v0 = h[0, 0:2].mean(0), h[0, 2:4].mean(0)  # position 4 is padding
    u1, v1 = h[1, 0:1].mean(0), h[1, 1:2].mean(0)  # positions 2..4 are padding
    expected = torch.stack([torch.cat([u, v, (u - v).abs(), u * v]) for u, v in ((u0, v0), (u1, v1))])  # (B, 4D)
    assert pooler.out_dim == 4 * D
    assert out.shape == (2, 4 * D)
    assert torch.allclose(out, expected)


def test_pair_without_second_segment_raises(states) -> None:
    encoded, batch = states
    single = {**batch, "token_type_ids": torch.zeros_like(batch["token_type_ids"])}
    with pytest.raises(ValueError, match="token_type_ids == 1"):
        Pooler(D, "pair")(encoded, single)


def test_unknown_mode_names_it() -> None:
    with pytest.raises(ValueError, match="'cls'"):
        Pooler(D, "cls")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["encoder", "mean", "max", "first", "pair"])
def test_gradients_reach_encoder_output(states, mode: str) -> None:
    encoded, batch = states
    hidden = encoded.hidden.clone().requires_grad_(True)
    pooled = encoded.pooled.clone().requires_grad_(True)
    out = Pooler(D, mode)(EncoderOutput(hidden, pooled, encoded.mask), batch)  # type: ignore[arg-type]
    out.sum().backward()
    grad = pooled.grad if mode == "encoder" else hidden.grad
    assert grad is not None and grad.abs().sum() > 0
    if mode != "encoder":
        assert torch.all(hidden.grad[~encoded.mask] == 0)  # padding gets no gradient
