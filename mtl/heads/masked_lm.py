"""Masked language modelling: predict the original token at every masked position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor
from torchmetrics import MetricCollection

from mtl.contracts import LabelKind, TaskBatch
from mtl.encoders.activation import Activation
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead
from mtl.heads.mlp import MLP
from mtl.heads.token_prediction import (
    METRICS,
    check_vocabulary,
    labelled,
    labelled_tokens,
    scatter_ids,
    token_loss,
    token_metrics,
    token_strings,
)


class MaskedLMHead(TaskHead):
    """Predicts a vocabulary token from every token state; trained on the positions an
    ``mlm`` task masked (``batch["labels"]`` holds their original ids, ``-100`` elsewhere).

    The corruption happens in the data (``type: mlm``, see
    :class:`mtl.data.corruption.Corruption`), so the encoder reads the masked input.
    Metrics over the masked positions: ``"accuracy"`` (token accuracy) and ``"perplexity"``.

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: the tokenizer's vocabulary, id order (filled in by the data module).
        hidden_dim: width of one hidden layer before the output; 0 for none.
        dropout: dropout before each Linear layer.
        activation: activation of the hidden layer.
        metrics: metric names, see above; the first is primary.
    """

    label_type: ClassVar[LabelKind] = LabelKind.MASKED_TOKENS

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        hidden_dim: int = 0,
        dropout: float = 0.1,
        activation: Activation = "gelu",
        metrics: Sequence[str] = ("accuracy", "perplexity"),
    ) -> None:
        super().__init__()
        check_vocabulary(type(self).__name__, labels)
        self._set_metrics(metrics, METRICS)
        self.labels = list(labels)
        self.mlp = MLP(in_dim, len(labels), hidden_dim, 1, activation, dropout)

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Vocabulary logits at the masked positions, ``(N, V)``, when the batch has labels
        (about 15% of the tokens: the ``V``-wide projection is skipped elsewhere);
        at every token, ``(B, T, V)``, for prediction."""
        if "labels" in batch:
            return self.mlp(encoded.hidden[labelled(batch["labels"])])  # (N, D) -> (N, V)
        return self.mlp(encoded.hidden)  # (B, T, D) -> (B, T, V)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        return token_loss(logits, batch["labels"])

    def make_metrics(self) -> MetricCollection:
        return token_metrics(self.metric_names, len(self.labels))

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Logits ``(N, V)`` and original ids ``(N,)`` at the masked positions."""
        return labelled_tokens(logits, batch["labels"])

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[list[str]]:
        """The predicted token at every masked position (every real token when the batch
        has no labels)."""
        keep = labelled(batch["labels"]) if "labels" in batch else batch["attention_mask"].bool()  # (B, T)
        return token_strings(scatter_ids(logits, keep, fill=self.special_ids.pad), self.labels, keep)
