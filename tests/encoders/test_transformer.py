from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders import EncoderOutput, TransformerEncoder
from mtl.encoders.embedding import SinusoidalPositions
from mtl.encoders.transformer import MultiHeadSelfAttention

VOCAB = 50


def _batch(lengths: list[int], total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids; padding positions get random non-pad ids so that only the mask hides them."""
    ids = torch.randint(1, VOCAB, (len(lengths), total))
    mask = torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    return ids, mask


def _encoder(**options) -> TransformerEncoder:
    return TransformerEncoder(VOCAB, dim=16, num_layers=2, num_heads=2, ff_dim=32, max_positions=16, **options)


OPTIONS = [
    {"norm_position": n, "positions": p, "pooling": pool}
    for n in ("pre", "post")
    for p in ("sinusoidal", "learned")
    for pool in ("mean", "first")
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "sigmoid"])
def test_shapes(options: dict, activation: str) -> None:
    enc = _encoder(activation=activation, **options)
    ids, mask = _batch([5, 2, 3], 7)
    out = enc(ids, mask)
    assert isinstance(out, EncoderOutput)
    assert enc.out_dim == 16
    assert out.hidden.shape == (3, 7, 16) and out.pooled.shape == (3, 16)
    assert torch.equal(out.mask, mask)
    assert len(enc.layer_groups()) == 3


@pytest.mark.parametrize("options", OPTIONS)
def test_padding_invariance_and_zero_padding(options: dict) -> None:
    torch.manual_seed(0)
    enc = _encoder(**options).eval()
    lengths = [4, 9, 1]
    ids, mask = _batch(lengths, 12)
    batched = enc(ids, mask)
    assert torch.count_nonzero(batched.hidden[~mask]) == 0
    for b, n in enumerate(lengths):
        alone = enc(ids[b : b + 1, :n], mask[b : b + 1, :n])
        torch.testing.assert_close(batched.hidden[b, :n], alone.hidden[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batched.pooled[b], alone.pooled[0], atol=1e-5, rtol=0)


def test_pooling_values() -> None:
    torch.manual_seed(0)
    ids, mask = _batch([3, 6], 6)
    mean = _encoder(pooling="mean").eval()
    out = mean(ids, mask)
    torch.testing.assert_close(out.pooled[0], out.hidden[0, :3].mean(0))
    torch.testing.assert_close(out.pooled[1], out.hidden[1].mean(0))
    first = _encoder(pooling="first").eval()
    out = first(ids, mask)
    torch.testing.assert_close(out.pooled, out.hidden[:, 0])


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_gradients_reach_every_layer(norm_position: str) -> None:
    torch.manual_seed(0)
    enc = _encoder(norm_position=norm_position, positions="learned")
    ids, mask = _batch([5, 2], 6)
    out = enc(ids, mask)
    # Random weights: a plain sum is blind to anything followed by a norm (its outputs sum to a constant).
    (out.pooled * torch.randn_like(out.pooled)).sum().add((out.hidden * torch.randn_like(out.hidden)).sum()).backward()
    groups = enc.layer_groups()
    assert sum(p.numel() for g in groups for p in g.parameters()) == sum(p.numel() for p in enc.parameters())
    for i, group in enumerate(groups):
        for name, param in group.named_parameters():
            if name == "tokens.embedding.weight":  # only the looked-up rows get a gradient
                assert param.grad[ids[mask]].abs().sum(1).min() > 1e-4
                continue
            if name == "positions.embedding.weight":  # only positions < T are used
                assert param.grad[:5].abs().sum(1).min() > 1e-4
                continue
            assert param.grad is not None and param.grad.abs().sum() > 1e-4, f"group {i}: {name} has no gradient"


def test_sinusoidal_values() -> None:
    table = SinusoidalPositions(8, max_positions=10)(10)  # (T, D)
    assert table.shape == (10, 8)
    expected_1 = [math.sin(1), math.cos(1), math.sin(1 / 10), math.cos(1 / 10), math.sin(1 / 100), math.cos(1 / 100)]
    torch.testing.assert_close(table[1, :6], torch.tensor(expected_1))
    freq = 10000 ** (-6 / 8)
    torch.testing.assert_close(table[7, 6:], torch.tensor([math.sin(7 * freq), math.cos(7 * freq)]))
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 4))
    longer = SinusoidalPositions(8, max_positions=4)(10)  # computed beyond the stored table
    torch.testing.assert_close(longer, table)


def test_attention_matches_manual_single_head() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(dim=4, num_heads=1, dropout=0.0)
    x = torch.randn(1, 3, 4)  # (B, T, D)
    mask = torch.tensor([[True, True, False]])
    q, k, v = attn.qkv(x).split(4, dim=-1)  # each (B, T, D)
    scores = q @ k.transpose(1, 2) / math.sqrt(4)  # (B, T, T)
    scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    expected = attn.out(torch.softmax(scores, dim=-1) @ v)  # (B, T, D)
    torch.testing.assert_close(attn(x, mask), expected)


def test_attention_with_one_real_key_returns_that_value() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(dim=8, num_heads=2, dropout=0.0)
    x = torch.randn(2, 5, 8)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 0] = True
    mask[1, 3] = True
    v = attn.qkv(x)[..., 16:]  # (B, T, D), values of both heads
    out = attn(x, mask)  # (B, T, D)
    torch.testing.assert_close(out[0], attn.out(v[0, 0]).expand(5, 8))
    torch.testing.assert_close(out[1], attn.out(v[1, 3]).expand(5, 8))


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"dim=10 .*num_heads=4"):
        TransformerEncoder(VOCAB, dim=10, num_heads=4)
    enc = _encoder(positions="learned")
    ids, mask = _batch([17], 17)
    with pytest.raises(ValueError, match=r"length 17 .*max_positions=16"):
        enc(ids, mask)
    assert _encoder(positions="sinusoidal")(ids, mask).hidden.shape == (1, 17, 16)
    with pytest.raises(ValueError, match="'rotary'"):
        _encoder(positions="rotary")
    with pytest.raises(ValueError, match="'max'"):
        _encoder(pooling="max")
    with pytest.raises(ValueError, match="'swish'"):
        _encoder(activation="swish")
