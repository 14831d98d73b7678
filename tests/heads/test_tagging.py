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
    assert head.loss(changed, {"labels": LABELS}).item() == pytest.approx(head.loss(logits, {"labels": LABELS}).item())


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
    assert preds.tolist() == pred_tags.tolist() and target.tolist() == labels.tolist()  # (B, T), -100 kept
    out = head.make_metrics()(preds, target)
    assert out["accuracy"].item() == pytest.approx(3 / 5)
    # O: tp2 fp0 fn1 -> 0.8; B-PER: tp1 fp2 fn0 -> 0.5; I-PER: tp0 fp0 fn1 -> 0
    assert out["f1"].item() == pytest.approx((0.8 + 0.5 + 0.0) / 3, rel=1e-5)


def test_decode_one_tag_per_word() -> None:
    head = TaggingHead(D, TAGS)
    pred_tags = torch.tensor([[0, 1, 2, 0, 0, 0], [0, 1, 2, 2, 0, 0]])
    logits = torch.nn.functional.one_hot(pred_tags, 3).float()
    word_starts = torch.tensor([[False, True, False, True, False, False], [False, True, True, True, False, False]])
    assert head.decode(logits, {"word_starts": word_starts}) == [
        ["B-PER", "O"],
        ["B-PER", "I-PER", "I-PER"],
    ]


def test_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"'mcc'.*accuracy.*f1"):
        TaggingHead(D, TAGS, metrics=["mcc"])
    with pytest.raises(ValueError, match="got 1"):
        TaggingHead(D, ["O"])


def _spelled(words: list[str], width: int = 12) -> torch.Tensor:
    out = torch.zeros(len(words), 1, width, dtype=torch.long)  # (B, T=1, C)
    for i, word in enumerate(words):
        raw = [b + 1 for b in word.encode()]
        out[i, 0, : len(raw)] = torch.tensor(raw)
    return out


def test_word_features_learn_a_suffix_rule_the_token_states_cannot_see() -> None:
    """With all-zero token states only the spelling tells the tags apart: words ending in
    -ly are ADV, the rest X. The head with word features learns it on training words and
    tags unseen words right; without them it cannot beat the majority."""
    torch.manual_seed(0)
    train = ["quickly", "slowly", "badly", "kindly", "oddly", "table", "run", "green", "apple", "lamp", "sofa", "dog"]
    unseen = ["softly", "madly", "chair", "river"]
    tags = ["ADV", "X"]

    def batch_of(words: list[str]) -> dict:
        labels = torch.tensor([[0 if w.endswith("ly") else 1] for w in words])  # (B, 1)
        return {"labels": labels, "word_bytes": _spelled(words), "attention_mask": torch.ones(len(words), 1, dtype=torch.bool)}

    def encoded(n: int) -> EncoderOutput:
        return EncoderOutput(torch.zeros(n, 1, D), torch.zeros(n, D), torch.ones(n, 1, dtype=torch.bool))

    for features, expected in [(24, 1.0), (0, 0.5)]:
        head = TaggingHead(D, tags, dropout=0.0, word_features=features)
        optimizer = torch.optim.Adam(head.parameters(), lr=0.02)
        for _ in range(150):
            optimizer.zero_grad()
            head.loss(head(encoded(len(train)), batch_of(train)), batch_of(train)).backward()
            optimizer.step()
        head.eval()
        test = batch_of(unseen)
        preds, target = head.metric_inputs(head(encoded(len(unseen)), test), test)
        assert (preds == target).float().mean().item() == expected, features


def test_word_features_need_word_bytes_and_a_valid_size() -> None:
    head = TaggingHead(D, TAGS, word_features=12)
    batch = {"attention_mask": torch.ones(1, 6, dtype=torch.bool), "labels": LABELS, "word_starts": WORD_STARTS}
    with pytest.raises(KeyError, match="no 'word_bytes'.*type 'tagging' or set word_features: 0"):
        head(EncoderOutput(torch.zeros(1, 6, D), torch.zeros(1, D), batch["attention_mask"]), batch)
    logits = head(
        EncoderOutput(torch.zeros(1, 6, D), torch.zeros(1, D), batch["attention_mask"]),
        batch | {"word_bytes": torch.zeros(1, 6, 4, dtype=torch.long)},
    )
    assert logits.shape == (1, 6, 3)
    with pytest.raises(ValueError, match="word_features must be >= 0"):
        TaggingHead(D, TAGS, word_features=-1)
    with pytest.raises(ValueError, match="multiple of the number of kernel sizes"):
        TaggingHead(D, TAGS, word_features=10)
