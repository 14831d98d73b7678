"""ClassificationHead / PairClassificationHead: loss, metrics, decoding and errors by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders.output import EncoderOutput
from mtl.heads import ClassificationHead, PairClassificationHead

D = 8


def _inputs(batch_size: int = 3) -> tuple[EncoderOutput, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    mask = torch.ones(batch_size, 4, dtype=torch.bool)
    mask[0, 3] = False
    hidden = torch.randn(batch_size, 4, D).masked_fill(~mask.unsqueeze(-1), 0.0).requires_grad_(True)
    pooled = torch.randn(batch_size, D, requires_grad=True)
    token_type_ids = torch.tensor([[0, 0, 1, 1]] * batch_size)
    batch = {
        "input_ids": torch.ones(batch_size, 4, dtype=torch.long),
        "attention_mask": mask,
        "token_type_ids": token_type_ids,
        "labels": torch.tensor([0, 1, 1][:batch_size]),
    }
    return EncoderOutput(hidden, pooled, mask), batch


def test_loss_is_hand_computed_cross_entropy() -> None:
    head = ClassificationHead(D, ["neg", "pos"])
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    batch = {"labels": torch.tensor([0, 1])}
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2
    assert head.loss(logits, batch).item() == pytest.approx(expected, rel=1e-6)


def test_class_weights_give_weighted_mean() -> None:
    head = ClassificationHead(D, ["neg", "pos"], class_weights=[1.0, 3.0])
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    batch = {"labels": torch.tensor([0, 1])}
    l0, l1 = math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-1.0))
    assert head.loss(logits, batch).item() == pytest.approx((1 * l0 + 3 * l1) / 4, rel=1e-6)


def test_label_smoothing_matches_hand_value() -> None:
    head = ClassificationHead(D, ["a", "b"], label_smoothing=0.2)
    logits = torch.tensor([[2.0, 0.0]])
    logp = torch.log_softmax(logits, -1)[0]
    expected = -(0.9 * logp[0] + 0.1 * logp[1])  # target (1 - 0.2) + 0.2 / 2 on class 0
    assert head.loss(logits, {"labels": torch.tensor([0])}).item() == pytest.approx(expected.item(), rel=1e-6)


def test_forward_shape_and_gradients_reach_encoder() -> None:
    encoded, batch = _inputs()
    head = ClassificationHead(D, ["a", "b", "c"], hidden_dim=4)
    logits = head(encoded, batch)
    assert logits.shape == (3, 3)
    head.loss(logits, batch).backward()
    assert encoded.pooled.grad is not None and encoded.pooled.grad.abs().sum() > 0


def test_pair_head_defaults_to_pair_pooling_and_grads_reach_hidden() -> None:
    encoded, batch = _inputs()
    head = PairClassificationHead(D, ["no", "yes"])
    assert head.pooler.mode == "pair" and head.pooler.out_dim == 4 * D
    head.loss(head(encoded, batch), batch).backward()
    assert encoded.hidden.grad is not None and encoded.hidden.grad.abs().sum() > 0
    assert torch.all(encoded.hidden.grad[0, 3] == 0)  # padding


def test_binary_f1_is_f1_of_class_one() -> None:
    head = ClassificationHead(D, ["0", "1"], metrics=["f1", "accuracy"])
    assert head.primary_metric == "f1"
    metrics = head.make_metrics()
    preds, target = torch.tensor([1, 1, 0, 0, 0]), torch.tensor([1, 0, 1, 0, 0])
    out = metrics(preds, target)
    # class 1: tp=1, fp=1, fn=1 -> F1 = 0.5 (macro would be (0.5 + 2/3) / 2)
    assert out["f1"].item() == pytest.approx(0.5)
    assert out["accuracy"].item() == pytest.approx(3 / 5)


def test_macro_f1_with_three_labels() -> None:
    head = ClassificationHead(D, ["a", "b", "c"], metrics=["f1"])
    preds, target = torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 0])
    # per class F1: a: tp1 fp1 fn1 -> 0.5; b: tp1 fp0 fn1 -> 2/3; c: tp1 fp1 fn0 -> 2/3
    expected = (0.5 + 2 / 3 + 2 / 3) / 3
    assert head.make_metrics()(preds, target)["f1"].item() == pytest.approx(expected, rel=1e-5)


def test_mcc_of_known_confusion_matrix() -> None:
    head = ClassificationHead(D, ["unacceptable", "acceptable"], metrics=["mcc"])
    # tp=3, tn=2, fp=1, fn=1 -> (3*2 - 1*1) / sqrt(4 * 4 * 3 * 3) = 5 / 12
    target = torch.tensor([1, 1, 1, 1, 0, 0, 0])
    preds = torch.tensor([1, 1, 1, 0, 0, 0, 1])
    assert head.make_metrics()(preds, target)["mcc"].item() == pytest.approx(5 / 12, rel=1e-5)


def test_metric_inputs_feed_the_collection() -> None:
    head = ClassificationHead(D, ["a", "b", "c"], metrics=["accuracy"])
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    batch = {"labels": torch.tensor([0, 2, 0, 0])}
    preds, target = head.metric_inputs(logits, batch)
    assert preds.tolist() == [0, 2, 1, 0]
    metrics = head.make_metrics()
    assert metrics is not head.make_metrics()  # fresh each call
    assert metrics(preds, target)["accuracy"].item() == pytest.approx(0.75)


def test_decode_returns_label_names() -> None:
    head = ClassificationHead(D, ["neg", "neu", "pos"])
    logits = torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])
    assert head.decode(logits, {}) == ["pos", "neg"]


def test_unknown_metric_names_value_and_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'bleu'.*accuracy.*f1.*mcc"):
        ClassificationHead(D, ["a", "b"], metrics=["accuracy", "bleu"])


def test_too_few_labels_names_count() -> None:
    with pytest.raises(ValueError, match="at least 2 labels, got 1"):
        ClassificationHead(D, ["only"])


def test_class_weights_length_checked() -> None:
    with pytest.raises(ValueError, match="class_weights has 3 values"):
        ClassificationHead(D, ["a", "b"], class_weights=[1.0, 2.0, 3.0])
