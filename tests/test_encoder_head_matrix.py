"""Every encoder with every head: shapes, padding invariance, gradients reach the encoder."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from mtl.encoders import CNNEncoder, LSTMEncoder, TransformerEncoder
from mtl.heads import (
    ClassificationHead,
    MultiLabelHead,
    PairClassificationHead,
    PairRegressionHead,
    RegressionHead,
    TaggingHead,
)

VOCAB = 40
ENCODERS = {
    "lstm": partial(LSTMEncoder, embed_dim=12, hidden_dim=8, num_layers=2, dropout=0.0),
    "cnn": partial(CNNEncoder, embed_dim=12, channels=8, kernel_sizes=[3, 5], num_layers=2, dropout=0.0, norm="batch"),
    "transformer": partial(TransformerEncoder, dim=16, num_layers=2, num_heads=2, ff_dim=32, dropout=0.0),
}
LABELS = ["a", "b", "c"]
HEADS = {
    "classification": (partial(ClassificationHead, labels=LABELS, dropout=0.0), (3,)),
    "pair_classification": (partial(PairClassificationHead, labels=LABELS, dropout=0.0), (3,)),
    "regression": (partial(RegressionHead, labels=[], dropout=0.0), ()),
    "pair_regression": (partial(PairRegressionHead, labels=[], dropout=0.0), ()),
    "multilabel": (partial(MultiLabelHead, labels=LABELS, dropout=0.0), (3,)),
    "tagging": (partial(TaggingHead, labels=LABELS, dropout=0.0), ("T", 3)),
}


def make_batch(lengths: list[int], width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A padded batch: [CLS]=2 first, a first segment, [SEP]=3, a second segment of type 1."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(5, VOCAB, (n,), generator=g)
        ids[i, 0] = 2
        half = max(2, n // 2)
        ids[i, half - 1] = 3
        types[i, half:n] = 1
    mask = ids != 0
    labels_tags = torch.randint(0, 3, ids.shape, generator=g).masked_fill(~mask, -100)
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": types,
        "word_starts": mask.clone(),
        "tag_labels": labels_tags,
        "class_labels": torch.randint(0, 3, (len(lengths),), generator=g),
        "float_labels": torch.rand(len(lengths), generator=g),
        "multi_labels": torch.randint(0, 2, (len(lengths), 3), generator=g).float(),
    }


def with_labels(batch: dict, head) -> dict:
    key = {"class": "class_labels", "float": "float_labels", "multilabel": "multi_labels", "tags": "tag_labels"}
    return batch | {"labels": batch[key[head.label_type]]}


@pytest.mark.parametrize("head_name", list(HEADS))
@pytest.mark.parametrize("encoder_name", list(ENCODERS))
def test_shapes_padding_and_gradients(encoder_name: str, head_name: str) -> None:
    torch.manual_seed(0)
    encoder = ENCODERS[encoder_name](VOCAB)
    factory, shape = HEADS[head_name]
    head = factory(encoder.out_dim)
    batch = make_batch([7, 4, 6], width=7)
    batch = with_labels(batch, head)

    # shapes
    encoder.train(), head.train()
    logits = head(encoder(batch["input_ids"], batch["attention_mask"]), batch)
    expected = tuple(7 if s == "T" else s for s in shape)
    assert logits.shape == (3, *expected)

    # gradients reach every encoder parameter group
    loss = head.loss(logits, batch)
    assert torch.isfinite(loss)
    loss.backward()
    for group in encoder.layer_groups():
        grads = [p.grad for p in group.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), type(group).__name__

    # padding does not change outputs at real tokens: row 1 alone vs. padded to width 7
    encoder.eval(), head.eval()
    with torch.no_grad():
        full = head(encoder(batch["input_ids"], batch["attention_mask"]), batch)
        n = int(batch["attention_mask"][1].sum())
        alone = {k: (v[1:2, :n] if v.dim() == 2 and v.shape[1] == 7 else v[1:2]) for k, v in batch.items()}
        single = head(encoder(alone["input_ids"], alone["attention_mask"]), alone)
    if head.label_type == "tags":
        torch.testing.assert_close(full[1:2, :n], single, atol=1e-5, rtol=1e-4)
    else:
        torch.testing.assert_close(full[1:2], single, atol=1e-5, rtol=1e-4)
