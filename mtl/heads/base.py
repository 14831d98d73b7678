"""The interface every task head implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from torch import Tensor, nn
from torchmetrics import MetricCollection

from mtl.contracts import LabelKind, SpecialIds, TaskBatch, labelled_rows
from mtl.encoders.output import EncoderOutput


class TaskHead(nn.Module):
    """A task's output layer, its loss, its metrics and its decoding.

    Subclasses take ``in_dim`` (the encoder's ``out_dim``) and ``labels`` (the task's label
    names; empty for regression) as their first two constructor arguments. Both are
    supplied by the module and the data, so a config names only the head's own options.

    ``label_type`` says what the data module must put in ``batch["labels"]`` (see
    :class:`~mtl.contracts.LabelKind` for each kind's shape); the batch's other keys are
    those of :class:`~mtl.contracts.TaskBatch`.
    """

    label_type: ClassVar[LabelKind]
    #: The metric to report first and to monitor, e.g. ``"accuracy"``.
    primary_metric: str
    #: The tokenizer's special ids; see :meth:`set_special_ids`.
    special_ids: SpecialIds = SpecialIds()

    def set_special_ids(self, ids: SpecialIds) -> None:
        """Take the tokenizer's special ids, handed in by the model after construction
        (they come from the data, like ``in_dim`` and ``labels``). Until then a head has
        the defaults, the ids of the tokenizers mtl trains. Heads that read or write token
        ids (:class:`~mtl.heads.DenoisingHead`) use them."""
        self.special_ids = ids

    def _set_metrics(self, metrics: Sequence[str], available: Mapping[str, object]) -> None:
        """Check the metric names against ``available``; the first is the primary one."""
        unknown = [m for m in metrics if m not in available]
        if unknown or not metrics:
            raise ValueError(
                f"{type(self).__name__}: metrics {list(metrics)} has unknown or no names {unknown}; choose from {list(available)}"
            )
        self.metric_names = list(metrics)
        self.primary_metric = self.metric_names[0]

    @property
    def requires_text_pair(self) -> bool:
        """True when the head reads two segments (pair pooling); such a head is skipped
        when predicting on single texts."""
        pooler = self._modules.get("pooler")
        return pooler is not None and pooler.mode == "pair"

    def labelled(self, batch: TaskBatch) -> Tensor:
        """``(B,)`` bool, the rows whose label of this task is not missing (see
        :func:`~mtl.contracts.labelled_rows`): the loss is their mean, the metrics see
        only them."""
        return labelled_rows(batch["labels"], self.label_type)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Logits (or predictions, for regression) for the batch."""
        raise NotImplementedError

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        """Scalar loss, averaged over the labelled examples (or tokens) of the batch; zero,
        still attached to the graph (:func:`no_label_loss`), when there are none."""
        raise NotImplementedError

    def make_metrics(self) -> MetricCollection:
        """A fresh collection of this task's metrics, keyed by short names."""
        raise NotImplementedError

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """``(preds, target)`` in the form ``make_metrics()`` expects, of the labelled rows only."""
        raise NotImplementedError

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[Any]:
        """One readable prediction per example: a label name, a list of label names, a
        float, or one tag name per word."""
        raise NotImplementedError


def no_label_loss(logits: Tensor) -> Tensor:
    """The loss of a batch without a labelled row: zero, but attached to the graph, so the
    task's gradient is zero (not missing, not NaN) in every gradient mode."""
    return logits.float().sum() * 0.0
