"""TaggingHead: loss over labelled positions only, token metrics, per-word decoding."""

from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders.output import EncoderOutput
from mtl.heads import TaggingHead

D = 8
TAGS = ["O", "B-PER", "I-PER"]

# [CLS] John ##son runs [SEP] <pad>: only "John" and "runs" (first sub-words) carry labels.
LABELS = torch.tensor([[-100, 1, -100, 0, -100, -100]])
WORD_STARTS = torch.tensor([[False, True, False, True, False, False]])


def test_forward_shape_and_gradients() -> None:
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    hidden = torch.randn(1, 6, D).masked_fill(~mask.unsqueeze(-1), 0.0).requires_grad_(True)
    batch = {"attention_mask": mask, "labels": LABELS, "word_starts": WORD_STARTS}
    head = TaggingHead(D, TAGS, hidden_dim=4)
    logits = head(EncoderOutput(hidden, torch.zeros(1, D), mask), batch)
    assert logits.shape == (1, 6, 3)
    head.loss(logits, batch).backward()
    assert hidden.grad is not None
    assert hidden.grad[0, 1].abs().sum() > 0 and hidden.grad[0, 3].abs().sum() > 0
    assert torch.all(hidden.grad[0, [0, 2, 4, 5]] == 0)  # unlabelled positions


def test_loss_by_hand_over_labelled_positions() -> None:
    head = TaggingHead(D, TAGS)
    logits = torch.zeros(1, 6, 3)
    logits[0, 1] = torch.tensor([0.0, 2.0, 0.0])  # true tag 1
    logits[0, 3] = torch.tensor([1.0, 0.0, 0.0])  # true tag 0
    l1 = -(2.0 - math.log(math.exp(2.0) + 2))
    l3 = -(1.0 - math.log(math.exp(1.0) + 2))
    assert head.loss(logits, {"labels": LABELS}).item() == pytest.approx((l1 + l3) / 2, rel=1e-6)


def test_loss_ignores_unlabelled_positions() -> None:
    head = TaggingHead(D, TAGS)
    torch.manual_seed(1)
    logits = torch.randn(1, 6, 3)
    changed = logits.clone()
    changed[0, [0, 2, 4, 5]] = torch.randn(4, 3) * 10
    assert head.loss(changed, {"labels": LABELS}).item() == pytest.approx(
        head.loss(logits, {"labels": LABELS}).item()
    )


def test_loss_without_labelled_positions_is_zero_not_nan() -> None:
    logits = torch.randn(1, 6, 3, requires_grad=True)
    loss = TaggingHead(D, TAGS).loss(logits, {"labels": torch.full((1, 6), -100)})
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph


def test_metrics_on_labelled_positions_only() -> None:
    head = TaggingHead(D, TAGS, metrics=["accuracy", "f1"])
    labels = torch.tensor([[-100, 1, 2, 0, -100], [-100, 0, 0, -100, -100]])
    pred_tags = torch.tensor([[1, 1, 1, 0, 2], [0, 0, 1, 2, 2]])  # 3 of 5 labelled correct
    logits = torch.nn.functional.one_hot(pred_tags, 3).float()  # (B, T, C)
    preds, target = head.metric_inputs(logits, {"labels": labels})
    assert preds.tolist() == [1, 1, 0, 0, 1] and target.tolist() == [1, 2, 0, 0, 0]
    out = head.make_metrics()(preds, target)
    assert out["accuracy"].item() == pytest.approx(3 / 5)
    # O: tp2 fp0 fn1 -> 0.8; B-PER: tp1 fp2 fn0 -> 0.5; I-PER: tp0 fp0 fn1 -> 0
    assert out["f1"].item() == pytest.approx((0.8 + 0.5 + 0.0) / 3, rel=1e-5)


def test_decode_one_tag_per_word() -> None:
    head = TaggingHead(D, TAGS)
    pred_tags = torch.tensor([[0, 1, 2, 0, 0, 0], [0, 1, 2, 2, 0, 0]])
    logits = torch.nn.functional.one_hot(pred_tags, 3).float()
    word_starts = torch.tensor(
        [[False, True, False, True, False, False], [False, True, True, True, False, False]]
    )
    assert head.decode(logits, {"word_starts": word_starts}) == [
        ["B-PER", "O"],
        ["B-PER", "I-PER", "I-PER"],
    ]


def test_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"'mcc'.*accuracy.*f1"):
        TaggingHead(D, TAGS, metrics=["mcc"])
    with pytest.raises(ValueError, match="got 1"):
        TaggingHead(D, ["O"])
