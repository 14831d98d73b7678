"""Loss, metrics and decoding shared by the heads that predict token ids over the
vocabulary (denoising autoencoder, masked language model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import Perplexity

IGNORE_INDEX = -100


class TokenPerplexity(Perplexity):
    """Perplexity over ``(N, V)`` logits and ``(N,)`` targets (one flat batch of tokens)."""

    def update(self, preds: Tensor, target: Tensor) -> None:
        super().update(preds.float()[None], target[None])  # (1, N, V), (1, N)


METRICS: dict[str, Callable[[int], Metric]] = {
    "accuracy": lambda n: MulticlassAccuracy(num_classes=n, average="micro"),
    "perplexity": lambda n: TokenPerplexity(),
}


def token_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of ``(..., V)`` logits against ``(...)`` ids, ignoring ``-100``;
    zero (still attached to the graph) when no position carries a label."""
    flat = logits.float().reshape(-1, logits.size(-1))  # (N, V)
    target = target.reshape(-1)  # (N,)
    if not bool((target != IGNORE_INDEX).any()):
        return flat.sum() * 0.0
    return F.cross_entropy(flat, target, ignore_index=IGNORE_INDEX)


def token_metrics(names: Sequence[str], vocab_size: int) -> MetricCollection:
    return MetricCollection({m: METRICS[m](vocab_size) for m in names})


def labelled_tokens(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Logits ``(N, V)`` and ids ``(N,)`` at the positions that carry a label."""
    flat = logits.detach().reshape(-1, logits.size(-1))  # (N_all, V)
    target = target.reshape(-1)  # (N_all,)
    keep = target != IGNORE_INDEX
    return flat[keep], target[keep]


def token_strings(ids: Tensor, vocabulary: list[str], keep: Tensor) -> list[list[str]]:
    """Per row of ``ids`` ``(B, T)``, the tokens where ``keep`` ``(B, T)`` is True."""
    return [[vocabulary[i] for i in row[k].tolist()] for row, k in zip(ids, keep.bool())]


def check_vocabulary(head: str, labels: list[str]) -> None:
    if len(labels) < 5:
        raise ValueError(
            f"{head}: labels must be the tokenizer's vocabulary (got {len(labels)} entries); use it for a "
            "task of type denoising or mlm, whose labels the data module fills in"
        )

