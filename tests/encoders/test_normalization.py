from __future__ import annotations

import pytest
import torch

from mtl.encoders.normalization import MaskedBatchNorm, make_norm


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4)  # (B, T, D)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    x[~mask] = 100.0  # garbage at padding must not influence anything
    return x, mask


def test_batch_norm_training_statistics_are_over_real_tokens() -> None:
    x, mask = _batch()
    norm = MaskedBatchNorm(4)
    norm.train()
    out = norm(x, mask)
    real = torch.cat([x[0, :5], x[1, :2], x[2, :3]])  # (10, D), by hand
    mean = real.sum(0) / 10
    var = ((real - mean) ** 2).sum(0) / 10
    torch.testing.assert_close(out[mask], (real - mean) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(norm.running_mean, 0.1 * mean)
    torch.testing.assert_close(norm.running_var, 0.9 * torch.ones(4) + 0.1 * var * 10 / 9)


def test_batch_norm_eval_uses_running_statistics() -> None:
    x, mask = _batch()
    norm = MaskedBatchNorm(4)
    norm.running_mean.fill_(2.0)
    norm.running_var.fill_(4.0)
    norm.eval()
    torch.testing.assert_close(norm(x, mask), (x - 2.0) / torch.sqrt(torch.tensor(4.0 + 1e-5)))


def test_batch_norm_training_output_ignores_padding_amount() -> None:
    x, mask = _batch()
    longer = torch.cat([x, torch.full((3, 4, 4), -50.0)], dim=1)  # (B, T+4, D)
    longer_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    norm = make_norm("batch", 4).train()
    a = norm(x, mask)
    b = norm(longer, longer_mask)
    torch.testing.assert_close(a[mask], b[longer_mask])


def test_batch_norm_gradients_reach_affine_parameters() -> None:
    x, mask = _batch()
    norm = make_norm("batch", 4)
    (norm(x, mask)[mask] * torch.arange(4.0)).sum().backward()
    assert norm.weight.grad.abs().sum() > 0 and norm.bias.grad.abs().sum() > 0


def test_layer_norm_is_per_token_and_none_is_identity() -> None:
    x, mask = _batch()
    torch.testing.assert_close(make_norm("layer", 4)(x, mask), torch.nn.functional.layer_norm(x, (4,)))
    assert make_norm("none", 4)(x, mask) is x


def test_unknown_norm() -> None:
    with pytest.raises(ValueError, match="'group'"):
        make_norm("group", 4)
