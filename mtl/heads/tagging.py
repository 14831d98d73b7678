"""Token tagging: one tag per word (POS, NER, chunking)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from mtl.contracts import IGNORE_INDEX, LabelKind, TaskBatch
from mtl.encoders.activation import Activation
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead, no_label_loss
from mtl.heads.mlp import MLP
from mtl.heads.span_f1 import SpanF1, span_scheme
from mtl.heads.word_bytes import WordBytesCNN

_METRICS: dict[str, Callable[[list[str]], Metric]] = {
    "accuracy": lambda tags: MulticlassAccuracy(num_classes=len(tags), average="micro", ignore_index=IGNORE_INDEX),
    "f1": lambda tags: MulticlassF1Score(num_classes=len(tags), average="macro", ignore_index=IGNORE_INDEX),
    "span_f1": lambda tags: SpanF1(tags, value="f1"),
    "span_precision": lambda tags: SpanF1(tags, value="precision"),
    "span_recall": lambda tags: SpanF1(tags, value="recall"),
}


class TaggingHead(TaskHead):
    """Applies an :class:`MLP` to every token state and predicts one of ``labels`` per token.

    Words split into several sub-words are labelled on their FIRST sub-word only: the
    data module puts the word's tag index there and ``-100`` at the word's other
    sub-words, at special tokens and at padding, and marks the first sub-words in
    ``batch["word_starts"]``. Loss is cross-entropy over the labelled positions
    (``ignore_index=-100``). Metrics, over labelled positions only: ``"accuracy"``
    (token accuracy, micro), ``"f1"`` (macro over tags), and for entity tags (BIO or
    BIOES, like ``B-PER``, ``I-PER``, ``O``) ``"span_f1"``, ``"span_precision"`` and
    ``"span_recall"``: micro over entities, an entity counting when its exact span and
    type match (CoNLL, as seqeval's strict mode; :class:`~mtl.heads.span_f1.SpanF1`).
    The first is primary.

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: tag names, index ``i`` naming tag ``i``; at least two.
        hidden_dim: width of one hidden layer before the output; 0 for none.
        dropout: dropout before each Linear layer.
        activation: activation of the hidden layer.
        metrics: metric names, see above.
        word_features: with a positive size, the spelling of each word (a CNN over its
            UTF-8 bytes, :class:`WordBytesCNN`, reading ``batch["word_bytes"]``) is joined
            to its token state before the MLP: suffixes and capitals for words the
            vocabulary splits or never saw. 0 (default) for none.
    """

    label_type: ClassVar[LabelKind] = LabelKind.TAGS

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        metrics: Sequence[str] = ("accuracy",),
        word_features: int = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if len(labels) < 2:
            raise ValueError(
                f"{name}: needs at least 2 tags, got {len(labels)} ({list(labels)}); "
                "check the task's tag column or its 'labels' list"
            )
        if word_features < 0:
            raise ValueError(f"{name}: word_features must be >= 0 (0 for none), got {word_features}")
        self._set_metrics(metrics, _METRICS)
        self.labels = list(labels)
        if any(m.startswith("span_") for m in self.metric_names):
            try:
                span_scheme(self.labels)
            except ValueError as error:
                raise ValueError(f"{name}(metrics={self.metric_names}): {error}") from None
        self.word_bytes = WordBytesCNN(word_features) if word_features > 0 else None
        self.mlp = MLP(in_dim + word_features, len(labels), hidden_dim, 1, activation, dropout)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Per-token tag logits, ``(B, T, C)``."""
        hidden = encoded.hidden  # (B, T, D)
        if self.word_bytes is not None:
            if "word_bytes" not in batch:
                raise KeyError(
                    f"{type(self).__name__}(word_features={self.word_bytes.dim}): the batch has no 'word_bytes'; "
                    "tagging tasks' data carries them, so give this head a task of type 'tagging' or set word_features: 0"
                )
            spelled = self.word_bytes(batch["word_bytes"][:, : hidden.size(1)])  # (B, T, F)
            hidden = torch.cat([hidden, spelled.to(hidden.dtype)], dim=-1)  # (B, T, D + F)
        return self.mlp(hidden)  # (B, T, C)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        """Mean cross-entropy over positions whose label is not ``-100``; zero (still
        attached to the graph) when the batch has no labelled position."""
        target = batch["labels"].reshape(-1)  # (B*T,)
        flat = logits.float().reshape(-1, logits.size(-1))  # (B*T, C)
        if not bool((target != IGNORE_INDEX).any()):
            return no_label_loss(flat)
        return F.cross_entropy(flat, target, ignore_index=IGNORE_INDEX)

    def make_metrics(self) -> MetricCollection:
        """Fresh metrics, keyed by the names given in ``metrics``."""
        return MetricCollection({m: _METRICS[m](self.labels) for m in self.metric_names})

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Predicted and true tag indices, both ``(B, T)``; the target keeps ``-100`` at
        unlabelled positions, which every metric ignores (span metrics read each row's
        labelled positions, in order, as its words)."""
        preds = logits.detach().argmax(dim=-1)  # (B, T)
        return preds, batch["labels"]  # (B, T), (B, T)

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[list[str]]:
        """Per example, the predicted tag name of each word, in order (read at the
        positions where ``batch["word_starts"]`` is True)."""
        if "word_starts" not in batch:
            raise KeyError(
                f"{type(self).__name__}.decode: the batch has no 'word_starts'; tagging "
                "batches must mark the first sub-word of every word"
            )
        preds = logits.argmax(dim=-1)  # (B, T)
        starts = batch["word_starts"].bool()  # (B, T)
        return [[self.labels[i] for i in row[keep].tolist()] for row, keep in zip(preds, starts)]
