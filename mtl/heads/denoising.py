"""Denoising autoencoder: reconstruct the original text from the encoder's states of a
corrupted copy, with a small recurrent decoder attending over those states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection

from mtl.contracts import IGNORE_INDEX, LabelKind, SpecialIds, TaskBatch
from mtl.encoders.lstm import run_lstm
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead
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


class DenoisingHead(TaskHead):
    """A 1-layer GRU/LSTM decoder with dot-product attention over the encoder's token
    states, trained with teacher forcing to reproduce the original ids.

    The corruption (masking, deletion, local shuffling) happens in the data (``type:
    denoising``, see :class:`mtl.data.corruption.Corruption`), so the encoder reads the
    corrupted input; ``batch["labels"]`` ``(B, T')`` holds the original ids
    (``[CLS] ... [SEP]``, ``-100`` padding). The decoder starts from a projection of the
    pooled state, reads ``labels[:, :-1]`` and predicts ``labels[:, 1:]``. Metrics over
    the predicted positions: ``"accuracy"`` (token accuracy) and ``"perplexity"``.
    Generation starts from the tokenizer's ``cls`` id and stops at its ``sep`` id; the
    decoder's embedding pads with its ``pad`` id (see :meth:`set_special_ids`).

    Args:
        in_dim: the encoder's ``out_dim``.
        labels: the tokenizer's vocabulary, id order (filled in by the data module).
        cell: ``gru`` or ``lstm``.
        hidden_dim: decoder state size.
        embed_dim: decoder token embedding size.
        dropout: dropout on the decoder's embeddings and outputs.
        tie_embeddings: project the output to ``embed_dim`` and score it against the
            decoder's embedding table (Press and Wolf 2017) instead of a ``V``-wide Linear
            layer on ``hidden_dim + in_dim``: fewer parameters and, for a large vocabulary,
            several times cheaper.
        metrics: metric names, see above; the first is primary.
    """

    label_type: ClassVar[LabelKind] = LabelKind.SEQUENCE

    def __init__(
        self,
        in_dim: int,
        labels: list[str],
        cell: Literal["gru", "lstm"] = "gru",
        hidden_dim: int = 128,
        embed_dim: int = 64,
        dropout: float = 0.1,
        tie_embeddings: bool = False,
        metrics: Sequence[str] = ("accuracy", "perplexity"),
    ) -> None:
        super().__init__()
        check_vocabulary(type(self).__name__, labels)
        if cell not in ("gru", "lstm"):
            raise ValueError(f"DenoisingHead: cell={cell!r} is not one of ['gru', 'lstm']")
        self._set_metrics(metrics, METRICS)
        self.labels = list(labels)
        self.cell = cell
        self.embedding = nn.Embedding(len(labels), embed_dim, padding_idx=self.special_ids.pad)
        self.init_state = nn.Linear(in_dim, hidden_dim)
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(embed_dim, hidden_dim, batch_first=True)
        self.query = nn.Linear(hidden_dim, in_dim, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.tie_embeddings = tie_embeddings
        if tie_embeddings:
            self.out = nn.Linear(hidden_dim + in_dim, embed_dim)
            self.vocabulary_bias = nn.Parameter(torch.zeros(len(labels)))
        else:
            self.out = nn.Linear(hidden_dim + in_dim, len(labels))

    def set_special_ids(self, ids: SpecialIds) -> None:
        """Keep ``ids``; the decoder's embedding takes ``ids.pad`` as its padding row (zero,
        never trained)."""
        super().set_special_ids(ids)
        if ids.pad != self.embedding.padding_idx:
            self.embedding.padding_idx = ids.pad
            with torch.no_grad():
                self.embedding.weight[ids.pad].zero_()

    def forward(self, encoded: EncoderOutput, batch: TaskBatch) -> Tensor:
        """Vocabulary logits ``(N, V)`` at the N labelled positions of ``labels[:, 1:]``
        (row-major) under teacher forcing; without labels (prediction), greedy decoding
        up to the input length + 2, ``(B, S, V)``."""
        if "labels" not in batch:
            return self.generate(encoded, batch["input_ids"].shape[1] + 2)
        previous = batch["labels"][:, :-1]  # (B, T'-1)
        previous = previous.masked_fill(previous == IGNORE_INDEX, self.special_ids.pad)  # -100 padding -> pad id
        states, _ = self._recur(self.dropout(self.embedding(previous)), self._initial(encoded))  # (B, T'-1, H)
        return self._logits(states, encoded, labelled(batch["labels"][:, 1:]))  # (N, V)

    def _initial(self, encoded: EncoderOutput) -> Tensor | tuple[Tensor, Tensor]:
        h0 = torch.tanh(self.init_state(encoded.pooled))[None]  # (1, B, H)
        return h0 if self.cell == "gru" else (h0, torch.zeros_like(h0))

    def _recur(self, inputs: Tensor, state: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """The decoder cell over ``inputs`` ``(B, S, E)`` from ``state``; an LSTM through
        :func:`~mtl.encoders.lstm.run_lstm`, which keeps CPU autocast from failing."""
        return run_lstm(self.rnn, inputs, state) if self.cell == "lstm" else self.rnn(inputs, state)

    def _logits(self, states: Tensor, encoded: EncoderOutput, keep: Tensor | None = None) -> Tensor:
        """Logits ``(B, S, V)``, or ``(N, V)`` at the True positions of ``keep`` ``(B, S)``."""
        scores = self.query(states) @ encoded.hidden.transpose(1, 2)  # (B, S, D) @ (B, D, T) -> (B, S, T)
        scores = scores.masked_fill(~encoded.mask.bool()[:, None, :], float("-inf"))
        context = scores.softmax(dim=-1) @ encoded.hidden  # (B, S, T) @ (B, T, D) -> (B, S, D)
        features = self.dropout(torch.cat([states, context], dim=-1))  # (B, S, H + D)
        if keep is not None:
            features = features[keep]  # (N, H + D)
        if self.tie_embeddings:  # (..., H + D) -> (..., E) -> (..., V) through the embedding table
            return F.linear(self.out(features), self.embedding.weight, self.vocabulary_bias)
        return self.out(features)  # (..., V)

    @torch.no_grad()
    def generate(self, encoded: EncoderOutput, max_length: int) -> Tensor:
        """Greedy decoding from ``[CLS]`` (the ``cls`` id): logits ``(B, S, V)`` of each generated step."""
        B = encoded.pooled.shape[0]
        token = torch.full((B, 1), self.special_ids.cls, dtype=torch.long, device=encoded.pooled.device)  # (B, 1)
        state, steps = self._initial(encoded), []
        for _ in range(max_length - 1):
            output, state = self._recur(self.embedding(token), state)  # (B, 1, H)
            logits = self._logits(output, encoded)  # (B, 1, V)
            steps.append(logits)
            token = logits.argmax(dim=-1)  # (B, 1)
        return torch.cat(steps, dim=1)  # (B, S, V)

    def loss(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        return token_loss(logits, batch["labels"][:, 1:])

    def make_metrics(self) -> MetricCollection:
        return token_metrics(self.metric_names, len(self.labels))

    def metric_inputs(self, logits: Tensor, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """Logits ``(N, V)`` and original ids ``(N,)`` at every target position."""
        return labelled_tokens(logits, batch["labels"][:, 1:])

    def decode(self, logits: Tensor, batch: TaskBatch) -> list[list[str]]:
        """The reconstructed tokens of each example, up to (without) the first ``[SEP]`` (the
        ``sep`` id)."""
        stop_id = self.special_ids.sep
        keep = labelled(batch["labels"][:, 1:]) if "labels" in batch else None  # (B, S)
        ids = logits.argmax(dim=-1) if keep is None else scatter_ids(logits, keep, fill=stop_id)  # (B, S)
        stop = (ids == stop_id).int().cumsum(dim=1) > 0  # (B, S) True from the first [SEP] on
        if keep is not None:
            stop |= ~keep
        return token_strings(ids, self.labels, ~stop)
