"""RegressionHead / PairRegressionHead: loss, metrics and decoding by hand."""

from __future__ import annotations

import pytest
import torch

from mtl.encoders.output import EncoderOutput
from mtl.heads import PairRegressionHead, RegressionHead

D = 8


def _inputs() -> tuple[EncoderOutput, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    hidden = torch.randn(2, 4, D).masked_fill(~mask.unsqueeze(-1), 0.0).requires_grad_(True)
    pooled = torch.randn(2, D, requires_grad=True)
    batch = {
        "attention_mask": mask,
        "token_type_ids": torch.tensor([[0, 0, 1, 1], [0, 1, 1, 0]]),
        "labels": torch.tensor([0.5, 4.0]),
    }
    return EncoderOutput(hidden, pooled, mask), batch


def test_forward_shape_and_gradients() -> None:
    encoded, batch = _inputs()
    head = RegressionHead(D, [], hidden_dim=4)
    preds = head(encoded, batch)
    assert preds.shape == (2,)
    head.loss(preds, batch).backward()
    assert encoded.pooled.grad is not None and encoded.pooled.grad.abs().sum() > 0


def test_pair_head_uses_pair_pooling() -> None:
    encoded, batch = _inputs()
    head = PairRegressionHead(D, [])
    assert head.pooler.mode == "pair"
    head.loss(head(encoded, batch), batch).backward()
    assert encoded.hidden.grad is not None and encoded.hidden.grad.abs().sum() > 0


def test_mse_loss_by_hand() -> None:
    head = RegressionHead(D, [])
    preds, batch = torch.tensor([1.0, 2.0, 4.0]), {"labels": torch.tensor([1.0, 0.0, 1.0])}
    assert head.loss(preds, batch).item() == pytest.approx((0 + 4 + 9) / 3)


def test_huber_loss_by_hand() -> None:
    head = RegressionHead(D, [], loss="huber")
    preds, batch = torch.tensor([1.5, 3.0]), {"labels": torch.tensor([1.0, 0.0])}
    # |e| = 0.5 -> 0.5 * 0.25 = 0.125; |e| = 3 -> 3 - 0.5 = 2.5
    assert head.loss(preds, batch).item() == pytest.approx((0.125 + 2.5) / 2)


def test_pearson_spearman_mse_on_known_vectors() -> None:
    head = RegressionHead(D, [], metrics=["spearman", "pearson", "mse"])
    assert head.primary_metric == "spearman"
    preds = torch.tensor([1.0, 2.0, 3.0, 4.0])
    target = torch.tensor([1.0, 3.0, 2.0, 4.0])
    # centred: [-1.5, -0.5, 0.5, 1.5] and [-1.5, 0.5, -0.5, 1.5] -> 4 / sqrt(5 * 5) = 0.8
    p, t = head.metric_inputs(preds, {"labels": target})
    out = head.make_metrics()(p, t)
    assert out["pearson"].item() == pytest.approx(0.8, rel=1e-5)
    assert out["spearman"].item() == pytest.approx(0.8, rel=1e-5)
    assert out["mse"].item() == pytest.approx(0.5)


def test_spearman_uses_ranks_only() -> None:
    head = RegressionHead(D, [])
    out = head.make_metrics()(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 100.0]))
    assert out["spearman"].item() == pytest.approx(0.8, rel=1e-5)
    assert out["pearson"].item() != pytest.approx(0.8, rel=1e-2)


def test_decode_returns_floats() -> None:
    decoded = RegressionHead(D, []).decode(torch.tensor([0.25, 3.5]), {})
    assert decoded == [0.25, 3.5] and all(isinstance(x, float) for x in decoded)


def test_unknown_metric_and_loss_raise() -> None:
    with pytest.raises(ValueError, match=r"'r2'.*pearson.*spearman.*mse"):
        RegressionHead(D, [], metrics=["r2"])
    with pytest.raises(ValueError, match="'l1'"):
        RegressionHead(D, [], loss="l1")  # type: ignore[arg-type]
