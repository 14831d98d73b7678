"""Multi-label classification: any subset of ``labels`` per text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MultilabelAccuracy, MultilabelExactMatch, MultilabelF1Score

from mtl.contracts import LabelKind, TaskBatch
from mtl.encoders.activation import Activation
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead, no_label_loss
from mtl.heads.mlp import MLP
from mtl.heads.pooling import Pooler, Pooling

_METRICS: dict[str, Callable[[int], Metric]] = {
    "f1": lambda n: MultilabelF1Score(num_labels=n, average="micro"),
    "accuracy": lambda n: MultilabelAccuracy(num_labels=n, average="micro"),
    "exact_match": lambda n: MultilabelExactMatch(num_labels=n),
}


class MultiLabelHead(TaskHead):
    """Pools the encoder output, applies an :class:`MLP`, and scores each label on its own.

    Loss is binary cross-entropy on the logits. A label is predicted when its sigmoid
    exceeds ``threshold``. Metrics: ``"f1"`` (micro over all example-label decisions),
    ``"accuracy"`` (fraction of correct example-label decisions, Hamming-style),
    ``"exact_match"`` (fraction of examples with every label right); the first is primary.

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: label names, index ``i`` naming column ``i`` of the multi-hot target;
            at least two.
        pooling: how to reduce the encoder output, see :class:`Pooler`.
        hidden_dim: width of one hidden layer before the output; 0 for none.
        dropout: dropout before each Linear layer.
        activation: activation of the hidden layer.
        threshold: sigmoid probability above which a label is predicted.
        metrics: metric names, see above.
    """

    label_type: ClassVar[LabelKind] = LabelKind.MULTILABEL

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        pooling: Pooling = "encoder",
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        threshold: float = 0.5,
        metrics: Sequence[str] = ("f1", "accuracy"),
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if len(labels) < 2:
            raise ValueError(
                f"{name}: needs at least 2 labels, got {len(labels)} ({list(labels)}); "
                "a single yes/no label is a ClassificationHead with labels ['no', 'yes']"
            )
        self._set_metrics(metrics, _METRICS)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"{name}: threshold must be in (0, 1), got {threshold}")
        self.labels = list(labels)
        self.threshold = threshold
        self.pooler = Pooler(in_dim, pooling)
        self.mlp = MLP(self.pooler.out_dim, len(labels), hidden_dim, 1, activation, dropout)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Per-label logits, ``(B, C)``."""
        return self.mlp(self.pooler(encoded, batch))  # (B, C)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        """BCE with logits against the multi-hot ``batch["labels"]`` ``(B, C)``, averaged
        over all example-label pairs of the labelled rows (a row of ``MISSING_FLOAT``
        has no label)."""
        keep = self.labelled(batch)  # (B,)
        if not bool(keep.any()):
            return no_label_loss(logits)
        return F.binary_cross_entropy_with_logits(logits.float()[keep], batch["labels"].float()[keep])  # (N, C)

    def make_metrics(self) -> MetricCollection:
        """Fresh metrics, keyed by the names given in ``metrics``."""
        n = len(self.labels)
        return MetricCollection({m: _METRICS[m](n) for m in self.metric_names})

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Thresholded 0/1 predictions ``(N, C)`` and the multi-hot targets ``(N, C)``, long,
        of the N labelled rows."""
        keep = self.labelled(batch)  # (B,)
        preds = (logits.detach()[keep].sigmoid() > self.threshold).long()  # (N, C)
        return preds, batch["labels"][keep].long()

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[list[str]]:
        """The predicted label names per example, in label order."""
        chosen = (logits.sigmoid() > self.threshold).tolist()  # (B, C) bools
        return [[label for label, on in zip(self.labels, row) if on] for row in chosen]
