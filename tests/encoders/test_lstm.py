from __future__ import annotations

import pytest
import torch
from torch import nn

from mtl.encoders import EncoderOutput, LSTMEncoder

VOCAB = 50


def _batch(lengths: list[int], total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids; padding positions get random non-pad ids so that only the mask hides them."""
    ids = torch.randint(1, VOCAB, (len(lengths), total))
    mask = torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    return ids, mask


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes(bidirectional: bool, num_layers: int) -> None:
    enc = LSTMEncoder(VOCAB, embed_dim=8, hidden_dim=12, num_layers=num_layers, bidirectional=bidirectional)
    ids, mask = _batch([5, 2, 3], 6)
    out = enc(ids, mask)
    d = 24 if bidirectional else 12
    assert isinstance(out, EncoderOutput)
    assert enc.out_dim == d
    assert out.hidden.shape == (3, 6, d) and out.pooled.shape == (3, d)
    assert torch.equal(out.mask, mask)
    assert len(enc.layer_groups()) == 1 + num_layers
    assert all(isinstance(g, nn.LSTM) and g.num_layers == 1 for g in enc.layer_groups()[1:])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_padding_invariance_and_zero_padding(num_layers: int) -> None:
    torch.manual_seed(0)
    enc = LSTMEncoder(VOCAB, embed_dim=8, hidden_dim=8, num_layers=num_layers).eval()
    ids, mask = _batch([4, 7, 1], 9)
    batched = enc(ids, mask)
    assert torch.count_nonzero(batched.hidden[~mask]) == 0
    for b, n in enumerate([4, 7, 1]):
        alone = enc(ids[b : b + 1, :n], mask[b : b + 1, :n])
        torch.testing.assert_close(batched.hidden[b, :n], alone.hidden[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batched.pooled[b], alone.pooled[0], atol=1e-5, rtol=0)


def test_pooled_is_final_forward_and_backward_state() -> None:
    torch.manual_seed(0)
    enc = LSTMEncoder(VOCAB, embed_dim=8, hidden_dim=6, num_layers=2).eval()
    ids, mask = _batch([5, 2, 3], 6)
    out = enc(ids, mask)
    for b, n in enumerate([5, 2, 3]):
        torch.testing.assert_close(out.pooled[b, :6], out.hidden[b, n - 1, :6])  # forward: last real token
        torch.testing.assert_close(out.pooled[b, 6:], out.hidden[b, 0, 6:])  # backward: first token


def test_gradients_reach_every_layer() -> None:
    torch.manual_seed(0)
    enc = LSTMEncoder(VOCAB, embed_dim=8, hidden_dim=8, num_layers=2)
    ids, mask = _batch([5, 2], 6)
    out = enc(ids, mask)
    # Random weights: a plain sum is blind to anything followed by a norm (its outputs sum to a constant).
    (out.pooled * torch.randn_like(out.pooled)).sum().add((out.hidden * torch.randn_like(out.hidden)).sum()).backward()
    for i, group in enumerate(enc.layer_groups()):
        for name, param in group.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 1e-4, f"group {i}: {name} has no gradient"


def test_empty_or_left_padded_rows_raise() -> None:
    enc = LSTMEncoder(VOCAB, embed_dim=8, hidden_dim=8)
    ids, mask = _batch([3, 0], 4)
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        enc(ids, mask)
    ids, mask = _batch([3, 3], 4)
    with pytest.raises(ValueError, match="right-padded"):
        enc(ids, mask.flip(1))


@pytest.mark.parametrize(("bidirectional", "num_layers"), [(True, 1), (True, 3), (False, 2)])
def test_the_unpacked_states_of_export_equal_the_packed_ones(bidirectional: bool, num_layers: int) -> None:
    """What ``torch.export`` runs (each direction over the padded batch, the backward one
    over each sequence reversed within its length) gives the packed states and pooled vector."""
    torch.manual_seed(0)
    encoder = LSTMEncoder(50, embed_dim=8, hidden_dim=6, num_layers=num_layers, bidirectional=bidirectional).eval()
    ids = torch.randint(1, 50, (4, 7))  # (B, T)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 3, 1, 5])[:, None]  # (B, T), right-padded
    ids[~mask] = 0
    with torch.no_grad():
        packed = encoder(ids, mask)
        unpacked = encoder._forward_unpacked(encoder.embedding(ids), mask)
    torch.testing.assert_close(unpacked.hidden, packed.hidden, atol=1e-6, rtol=1e-6)  # zero at padding in both
    torch.testing.assert_close(unpacked.pooled, packed.pooled, atol=1e-6, rtol=1e-6)
