from __future__ import annotations

import pytest
import torch

from mtl.encoders import CNNEncoder, EncoderOutput

VOCAB = 50


def _batch(lengths: list[int], total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids; padding positions get random non-pad ids so that only the mask hides them."""
    ids = torch.randint(1, VOCAB, (len(lengths), total))
    mask = torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    return ids, mask


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "sigmoid"])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_shapes(activation: str, norm: str) -> None:
    enc = CNNEncoder(VOCAB, embed_dim=8, channels=6, kernel_sizes=[1, 3, 5], num_layers=2, activation=activation, norm=norm)
    ids, mask = _batch([5, 2, 3], 7)
    out = enc(ids, mask)
    assert isinstance(out, EncoderOutput)
    assert enc.out_dim == 18
    assert out.hidden.shape == (3, 7, 18) and out.pooled.shape == (3, 18)
    assert torch.equal(out.mask, mask)
    assert len(enc.layer_groups()) == 3


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("embed_dim", [8, 16])  # 16 = out_dim: residual on every layer
def test_padding_invariance_and_zero_padding(norm: str, embed_dim: int) -> None:
    torch.manual_seed(0)
    enc = CNNEncoder(VOCAB, embed_dim=embed_dim, channels=8, kernel_sizes=[3, 5], num_layers=2, norm=norm)
    lengths = [4, 9, 1]
    ids, mask = _batch(lengths, 12)
    enc.train()
    enc(ids, mask)  # move batch-norm running statistics away from their defaults
    enc.eval()
    batched = enc(ids, mask)
    assert torch.count_nonzero(batched.hidden[~mask]) == 0
    for b, n in enumerate(lengths):
        alone = enc(ids[b : b + 1, :n], mask[b : b + 1, :n])
        torch.testing.assert_close(batched.hidden[b, :n], alone.hidden[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batched.pooled[b], alone.pooled[0], atol=1e-5, rtol=0)


def test_pooled_is_max_over_real_tokens() -> None:
    torch.manual_seed(0)
    enc = CNNEncoder(VOCAB, embed_dim=8, channels=4, activation="tanh").eval()
    ids, mask = _batch([3, 6], 6)
    out = enc(ids, mask)
    torch.testing.assert_close(out.pooled[0], out.hidden[0, :3].amax(0))
    torch.testing.assert_close(out.pooled[1], out.hidden[1].amax(0))


def test_residual_only_when_sizes_match() -> None:
    enc = CNNEncoder(VOCAB, embed_dim=8, channels=4, kernel_sizes=[3, 5], num_layers=3)
    assert [layer.residual for layer in enc.layers] == [True, True, True]
    enc = CNNEncoder(VOCAB, embed_dim=6, channels=4, kernel_sizes=[3, 5], num_layers=2)
    assert [layer.residual for layer in enc.layers] == [False, True]


def test_gradients_reach_every_layer() -> None:
    torch.manual_seed(0)
    enc = CNNEncoder(VOCAB, embed_dim=8, channels=8, num_layers=2, norm="batch")
    ids, mask = _batch([5, 2], 6)
    out = enc(ids, mask)
    # Random weights: a plain sum is blind to anything followed by a norm (its outputs sum to a constant).
    (out.pooled * torch.randn_like(out.pooled)).sum().add((out.hidden * torch.randn_like(out.hidden)).sum()).backward()
    for i, group in enumerate(enc.layer_groups()):
        for name, param in group.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 1e-4, f"group {i}: {name} has no gradient"


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"\[4\]"):
        CNNEncoder(VOCAB, kernel_sizes=[3, 4])
    with pytest.raises(ValueError, match="'swish'"):
        CNNEncoder(VOCAB, activation="swish")
    with pytest.raises(ValueError, match="'group'"):
        CNNEncoder(VOCAB, norm="group")
    with pytest.raises(ValueError, match="'uniform'"):
        CNNEncoder(VOCAB, init="uniform")
