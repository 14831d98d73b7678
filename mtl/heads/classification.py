"""Sequence classification: one label per text or per text pair."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
)

from mtl.contracts import LabelKind, TaskBatch
from mtl.encoders.activation import Activation
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead, no_label_loss
from mtl.heads.mlp import MLP
from mtl.heads.pooling import Pooler, Pooling


def _f1(num_classes: int) -> Metric:
    # GLUE reports binary tasks (MRPC, QQP) as F1 of the positive class, index 1.
    if num_classes == 2:
        return BinaryF1Score()
    return MulticlassF1Score(num_classes=num_classes, average="macro")


_METRICS: dict[str, Callable[[int], Metric]] = {
    "accuracy": lambda n: MulticlassAccuracy(num_classes=n, average="micro"),
    "f1": _f1,
    "mcc": lambda n: MulticlassMatthewsCorrCoef(num_classes=n),
}


class ClassificationHead(TaskHead):
    """Pools the encoder output, applies an :class:`MLP`, and predicts one of ``labels``.

    Loss is cross-entropy. Metrics: ``"accuracy"``; ``"f1"`` (F1 of class index 1 with two
    labels, as GLUE reports MRPC; macro F1 otherwise); ``"mcc"`` (Matthews correlation,
    as GLUE reports CoLA). The first metric is the primary one.

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: class names, index ``i`` naming class ``i``; at least two.
        pooling: how to reduce the encoder output, see :class:`Pooler`.
        hidden_dim: width of one hidden layer before the output; 0 for none.
        dropout: dropout before each Linear layer.
        activation: activation of the hidden layer.
        metrics: metric names, see above.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        class_weights: one loss weight per label, or None for equal weights.
    """

    label_type: ClassVar[LabelKind] = LabelKind.CLASS

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        pooling: Pooling = "encoder",
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        metrics: Sequence[str] = ("accuracy", "f1"),
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if len(labels) < 2:
            raise ValueError(
                f"{name}: needs at least 2 labels, got {len(labels)} ({list(labels)}); "
                "check the task's label column or its 'labels' list"
            )
        self._set_metrics(metrics, _METRICS)
        if class_weights is not None and len(class_weights) != len(labels):
            raise ValueError(
                f"{name}: class_weights has {len(class_weights)} values but there are "
                f"{len(labels)} labels {list(labels)}; give one weight per label"
            )
        self.labels = list(labels)
        self.label_smoothing = label_smoothing
        self.pooler = Pooler(in_dim, pooling)
        self.mlp = MLP(self.pooler.out_dim, len(labels), hidden_dim, 1, activation, dropout)
        weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Class logits, ``(B, C)``."""
        return self.mlp(self.pooler(encoded, batch))  # (B, C)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        """Mean cross-entropy against ``batch["labels"]`` ``(B,)`` over the labelled rows
        (``IGNORE_INDEX`` marks a missing label)."""
        if not bool(self.labelled(batch).any()):
            return no_label_loss(logits)
        return F.cross_entropy(
            logits.float(),
            batch["labels"],
            weight=self.class_weights,
            label_smoothing=self.label_smoothing,
        )

    def make_metrics(self) -> MetricCollection:
        """Fresh metrics, keyed by the names given in ``metrics``."""
        n = len(self.labels)
        return MetricCollection({m: _METRICS[m](n) for m in self.metric_names})

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Predicted class indices ``(N,)`` and targets ``(N,)`` of the N labelled rows."""
        keep = self.labelled(batch)  # (B,)
        return logits.detach().argmax(dim=-1)[keep], batch["labels"][keep]

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[str]:
        """The predicted label name per example."""
        return [self.labels[i] for i in logits.argmax(dim=-1).tolist()]


class PairClassificationHead(ClassificationHead):
    """A :class:`ClassificationHead` for text pairs: ``pooling`` defaults to ``"pair"``
    (``[u, v, |u - v|, u * v]`` over the two segments' mean states)."""

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        pooling: Pooling = "pair",
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        metrics: Sequence[str] = ("accuracy", "f1"),
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(in_dim, labels, pooling, hidden_dim, dropout, activation, metrics, label_smoothing, class_weights)
