"""Sequence regression: one real number per text or per text pair (e.g. STS-B)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanSquaredError, Metric, MetricCollection, PearsonCorrCoef, SpearmanCorrCoef

from mtl.contracts import LabelKind, TaskBatch
from mtl.encoders.activation import Activation
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead, no_label_loss
from mtl.heads.mlp import MLP
from mtl.heads.pooling import Pooler, Pooling

_METRICS: dict[str, Callable[[], Metric]] = {
    "pearson": PearsonCorrCoef,
    "spearman": SpearmanCorrCoef,
    "mse": MeanSquaredError,
}


class RegressionHead(TaskHead):
    """Pools the encoder output and applies an :class:`MLP` with one output.

    Loss is mean squared error (``"mse"``) or Huber with ``delta = 1`` (``"huber"``).
    Metrics: ``"pearson"``, ``"spearman"``, ``"mse"``; the first is the primary one.

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: ignored (regression has no label names); pass ``[]``.
        pooling: how to reduce the encoder output, see :class:`Pooler`.
        hidden_dim: width of one hidden layer before the output; 0 for none.
        dropout: dropout before each Linear layer.
        activation: activation of the hidden layer.
        metrics: metric names, see above.
        loss: ``"mse"`` or ``"huber"``.
    """

    label_type: ClassVar[LabelKind] = LabelKind.FLOAT

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        pooling: Pooling = "encoder",
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        metrics: Sequence[str] = ("pearson", "spearman"),
        loss: Literal["mse", "huber"] = "mse",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self._set_metrics(metrics, _METRICS)
        if loss not in ("mse", "huber"):
            raise ValueError(f"{name}: unknown loss {loss!r}; choose 'mse' or 'huber'")
        self.loss_name = loss
        self.pooler = Pooler(in_dim, pooling)
        self.mlp = MLP(self.pooler.out_dim, 1, hidden_dim, 1, activation, dropout)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Predicted values, ``(B,)``."""
        return self.mlp(self.pooler(encoded, batch)).squeeze(-1)  # (B, 1) -> (B,)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        """Mean MSE or Huber loss against ``batch["labels"]`` ``(B,)`` over the labelled
        rows (``MISSING_FLOAT`` marks a missing target)."""
        keep = self.labelled(batch)  # (B,)
        if not bool(keep.any()):
            return no_label_loss(logits)
        preds, target = logits.float()[keep], batch["labels"].float()[keep]  # (N,), (N,)
        if self.loss_name == "huber":
            return F.huber_loss(preds, target, delta=1.0)
        return F.mse_loss(preds, target)

    def make_metrics(self) -> MetricCollection:
        """Fresh metrics, keyed by the names given in ``metrics``."""
        return MetricCollection({m: _METRICS[m]() for m in self.metric_names})

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Predictions ``(N,)`` and targets ``(N,)`` of the N labelled rows, both float."""
        keep = self.labelled(batch)  # (B,)
        return logits.detach().float()[keep], batch["labels"].float()[keep]

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[float]:
        """The predicted value per example."""
        return [float(x) for x in logits.tolist()]


class PairRegressionHead(RegressionHead):
    """A :class:`RegressionHead` for text pairs: ``pooling`` defaults to ``"pair"``."""

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        pooling: Pooling = "pair",
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "tanh",
        metrics: Sequence[str] = ("pearson", "spearman"),
        loss: Literal["mse", "huber"] = "mse",
    ) -> None:
        super().__init__(in_dim, labels, pooling, hidden_dim, dropout, activation, metrics, loss)
