"""Loss, metrics and decoding shared by the heads that predict token ids over the
vocabulary (denoising autoencoder, masked language model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import Perplexity

from mtl.contracts import IGNORE_INDEX
from mtl.heads.base import no_label_loss


class TokenPerplexity(Perplexity):
    """Perplexity over ``(N, V)`` logits and ``(N,)`` targets (one flat batch of tokens)."""

    def update(self, preds: Tensor, target: Tensor) -> None:
        super().update(preds.float()[None], target[None])  # (1, N, V), (1, N)


METRICS: dict[str, Callable[[int], Metric]] = {
    "accuracy": lambda n: MulticlassAccuracy(num_classes=n, average="micro"),
    "perplexity": lambda n: TokenPerplexity(),
}


def labelled(target: Tensor) -> Tensor:
    """Where ``target`` ``(B, T)`` carries a label: the positions whose vocabulary logits a
    head computes in training (``(N, V)`` for the N True entries, row-major), sparing the
    ``V``-wide projection at every padded, unmasked or unpredicted position."""
    return target != IGNORE_INDEX


def token_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of vocabulary logits against ids ``(B, T)``, ignoring ``-100``:
    logits either ``(B, T, V)`` or ``(N, V)`` at the labelled positions only (see
    :func:`labelled`); zero (still attached to the graph) when no position carries a label."""
    flat, target = labelled_tokens(logits, target, detach=False)  # (N, V), (N,)
    if target.numel() == 0:
        return no_label_loss(logits)
    return F.cross_entropy(flat.float(), target)


def token_metrics(names: Sequence[str], vocab_size: int) -> MetricCollection:
    return MetricCollection({m: METRICS[m](vocab_size) for m in names})


def labelled_tokens(logits: Tensor, target: Tensor, detach: bool = True) -> tuple[Tensor, Tensor]:
    """Logits ``(N, V)`` and ids ``(N,)`` at the positions of ``target`` ``(B, T)`` that
    carry a label; ``logits`` are ``(B, T, V)`` or already ``(N, V)`` at those positions."""
    keep = labelled(target)  # (B, T)
    logits = logits.detach() if detach else logits
    ids = target[keep]  # (N,)
    if logits.dim() == 2:
        if logits.shape[0] != ids.shape[0]:
            raise ValueError(f"{logits.shape[0]} rows of logits for {ids.shape[0]} labelled positions")
        return logits, ids
    return logits[keep], ids


def scatter_ids(logits: Tensor, keep: Tensor, fill: int) -> Tensor:
    """The argmax ids ``(B, T)`` of logits ``(B, T, V)``, or of ``(N, V)`` placed at the
    True positions of ``keep`` ``(B, T)`` with ``fill`` elsewhere."""
    if logits.dim() == 3:
        return logits.argmax(dim=-1)
    ids = torch.full(keep.shape, fill, dtype=torch.long, device=logits.device)  # (B, T)
    ids[keep] = logits.argmax(dim=-1)
    return ids


def token_strings(ids: Tensor, vocabulary: list[str], keep: Tensor) -> list[list[str]]:
    """Per row of ``ids`` ``(B, T)``, the tokens where ``keep`` ``(B, T)`` is True."""
    return [[vocabulary[i] for i in row[k].tolist()] for row, k in zip(ids, keep.bool())]


def check_vocabulary(head: str, labels: list[str]) -> None:
    if len(labels) < 5:
        raise ValueError(
            f"{head}: labels must be the tokenizer's vocabulary (got {len(labels)} entries); use it for a "
            "task of type denoising or mlm, whose labels the data module fills in"
        )
