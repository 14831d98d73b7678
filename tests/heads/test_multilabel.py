"""MultiLabelHead: BCE loss, thresholded metrics and decoding by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders.output import EncoderOutput
from mtl.heads import MultiLabelHead

D = 8
LABELS = ["sports", "politics", "tech"]


def test_forward_shape_and_gradients() -> None:
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    hidden = torch.randn(2, 3, D).masked_fill(~mask.unsqueeze(-1), 0.0).requires_grad_(True)
    encoded = EncoderOutput(hidden, torch.randn(2, D), mask)
    batch = {"attention_mask": mask, "labels": torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])}
    head = MultiLabelHead(D, LABELS, pooling="mean", hidden_dim=4)
    logits = head(encoded, batch)
    assert logits.shape == (2, 3)
    head.loss(logits, batch).backward()
    assert hidden.grad is not None and hidden.grad.abs().sum() > 0
    assert torch.all(hidden.grad[0, 2] == 0)


def test_bce_loss_by_hand() -> None:
    head = MultiLabelHead(D, ["a", "b"])
    logits = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([[1.0, 0.0]])
    # -log sigmoid(0) = log 2; -log(1 - sigmoid(2)) = log(1 + e^2)
    expected = (math.log(2.0) + math.log(1 + math.exp(2.0))) / 2
    assert head.loss(logits, {"labels": labels}).item() == pytest.approx(expected, rel=1e-6)


def test_metrics_by_hand() -> None:
    head = MultiLabelHead(D, LABELS, metrics=["f1", "accuracy", "exact_match"])
    logits = torch.tensor([[3.0, -3.0, 3.0], [3.0, 3.0, -3.0]])  # predicts {0, 2} and {0, 1}
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    preds, target = head.metric_inputs(logits, {"labels": labels})
    assert preds.tolist() == [[1, 0, 1], [1, 1, 0]]
    out = head.make_metrics()(preds, target)
    # tp = 3, fp = 1, fn = 1 -> micro F1 = 6 / 8; 4 of 6 decisions right; 1 of 2 examples exact
    assert out["f1"].item() == pytest.approx(0.75)
    assert out["accuracy"].item() == pytest.approx(4 / 6)
    assert out["exact_match"].item() == pytest.approx(0.5)


def test_decode_uses_threshold() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [-5.0, -5.0, -5.0]])  # sigmoid: .88, .27, .62
    assert MultiLabelHead(D, LABELS).decode(logits, {}) == [["sports", "tech"], []]
    assert MultiLabelHead(D, LABELS, threshold=0.8).decode(logits, {}) == [["sports"], []]


def test_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="'precision'"):
        MultiLabelHead(D, LABELS, metrics=["precision"])
    with pytest.raises(ValueError, match="got 1"):
        MultiLabelHead(D, ["only"])
    with pytest.raises(ValueError, match="1.5"):
        MultiLabelHead(D, LABELS, threshold=1.5)
