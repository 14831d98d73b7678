"""Rows whose label is missing (``IGNORE_INDEX`` for a class, ``MISSING_FLOAT`` for a target
or a multi-hot row) are left out of a head's loss and metrics; by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mtl.contracts import IGNORE_INDEX, MISSING_FLOAT
from mtl.evaluation import TaskEvaluation
from mtl.heads import ClassificationHead, MultiLabelHead, RegressionHead, TaggingHead

NAN, X = MISSING_FLOAT, IGNORE_INDEX


def _ce(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


def _bce(logit: float, target: float) -> float:
    return -(target * math.log(1 / (1 + math.exp(-logit))) + (1 - target) * math.log(1 / (1 + math.exp(logit))))


def test_classification_loss_and_metrics_read_the_labelled_rows_only() -> None:
    head = ClassificationHead(8, ["neg", "pos"])
    logits = torch.tensor([[2.0, 0.0], [0.0, 5.0], [0.0, 1.0], [3.0, 0.0]])
    batch = {"labels": torch.tensor([0, X, 1, X])}
    expected = (_ce([2.0, 0.0], 0) + _ce([0.0, 1.0], 1)) / 2  # mean over the 2 labelled rows
    assert head.loss(logits, batch).item() == pytest.approx(expected, rel=1e-6)
    preds, target = head.metric_inputs(logits, batch)
    assert preds.tolist() == [0, 1] and target.tolist() == [0, 1]
    metrics = head.make_metrics()
    metrics.update(preds, target)
    assert metrics.compute()["accuracy"].item() == 1.0  # the unlabelled rows' predictions do not count


def test_regression_loss_and_metrics_read_the_labelled_rows_only() -> None:
    head = RegressionHead(8, [], metrics=["mse"])
    logits = torch.tensor([1.0, 7.0, 2.0])
    batch = {"labels": torch.tensor([0.0, NAN, 5.0])}
    assert head.loss(logits, batch).item() == pytest.approx((1.0 + 9.0) / 2)
    huber = RegressionHead(8, [], loss="huber")
    assert huber.loss(logits, batch).item() == pytest.approx((0.5 + 2.5) / 2)  # 0.5 x^2 at |x| <= 1, |x| - 0.5 above
    preds, target = head.metric_inputs(logits, batch)
    assert preds.tolist() == [1.0, 2.0] and target.tolist() == [0.0, 5.0]


def test_multilabel_loss_and_metrics_read_the_labelled_rows_only() -> None:
    head = MultiLabelHead(8, ["a", "b"], metrics=["exact_match"])
    logits = torch.tensor([[1.0, -1.0], [4.0, 4.0], [-2.0, 0.0]])
    batch = {"labels": torch.tensor([[1.0, 0.0], [NAN, NAN], [0.0, 1.0]])}
    expected = (_bce(1.0, 1.0) + _bce(-1.0, 0.0) + _bce(-2.0, 0.0) + _bce(0.0, 1.0)) / 4
    assert head.loss(logits, batch).item() == pytest.approx(expected, rel=1e-6)
    preds, target = head.metric_inputs(logits, batch)
    assert preds.tolist() == [[1, 0], [0, 0]] and target.tolist() == [[1, 0], [0, 1]]


@pytest.mark.parametrize(
    ("head", "logits", "labels"),
    [
        (ClassificationHead(8, ["a", "b"]), torch.randn(2, 2), torch.tensor([X, X])),
        (RegressionHead(8, []), torch.randn(2), torch.tensor([NAN, NAN])),
        (MultiLabelHead(8, ["a", "b"]), torch.randn(2, 2), torch.full((2, 2), NAN)),
        (TaggingHead(8, ["a", "b"]), torch.randn(2, 3, 2), torch.full((2, 3), X)),
    ],
)
def test_a_batch_without_labelled_rows_has_a_zero_loss_on_the_graph(head, logits, labels) -> None:
    logits.requires_grad_(True)
    loss = head.loss(logits, {"labels": labels})
    assert loss.item() == 0.0
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.equal(grad, torch.zeros_like(logits))  # a zero gradient, not NaN or none
    assert head.metric_inputs(logits, {"labels": labels})[1].numel() in (0, labels.numel())


def test_evaluation_weighs_the_loss_by_labelled_rows_and_skips_batches_without_any() -> None:
    heads = nn.ModuleDict({"r": RegressionHead(8, [], metrics=["mse"])})
    evaluation = TaskEvaluation(heads)
    batches = [
        (torch.tensor([1.0, 7.0, 2.0]), torch.tensor([0.0, NAN, 5.0])),  # squared errors 1, 9
        (torch.tensor([3.0, 3.0]), torch.tensor([NAN, NAN])),  # nothing
        (torch.tensor([4.0]), torch.tensor([0.0])),  # 16
    ]
    for logits, labels in batches:
        evaluation.update("val", "r", heads["r"], logits, {"labels": labels, "input_ids": torch.ones(len(labels), 2)})
    results = evaluation.compute("val")["r"]
    assert results["mse"].item() == pytest.approx((1 + 9 + 16) / 3)
    assert results["loss"].item() == pytest.approx((1 + 9 + 16) / 3)  # 5 over 2 rows, then 16 over 1
