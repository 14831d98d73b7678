"""Entity-level span F1 for BIO (IOB2) and BIOES tags, as ``seqeval``'s strict mode scores it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from mtl.contracts import IGNORE_INDEX

Scheme = Literal["auto", "BIO", "BIOES"]
#: One entity: ``(start, end, type)``, words ``start`` to ``end - 1``.
Span = tuple[int, int, str]

_PREFIXES = {"BIO": ("B", "I"), "BIOES": ("B", "I", "E", "S")}


def span_scheme(labels: Sequence[str], scheme: Scheme = "auto") -> str:
    """The scheme ``"BIO"`` or ``"BIOES"`` of ``labels``, checked.

    ``"auto"`` is BIOES when any label starts with ``E-`` or ``S-``, BIO otherwise.

    Raises:
        ValueError: an unknown scheme, or labels that are neither ``O`` nor
            ``PREFIX-TYPE`` with a prefix of the scheme (e.g. POS tags).
    """
    if scheme == "auto":
        scheme = "BIOES" if any(label.startswith(("E-", "S-")) for label in labels) else "BIO"
    if scheme not in _PREFIXES:
        raise ValueError(f"span_f1: scheme must be 'auto', 'BIO' or 'BIOES', got {scheme!r}")
    prefixes = _PREFIXES[scheme]
    bad = [label for label in labels if label != "O" and not (label[:2] in {f"{p}-" for p in prefixes} and len(label) > 2)]
    if bad:
        shown = ", ".join(repr(label) for label in bad[:5]) + (", ..." if len(bad) > 5 else "")
        tags = ", ".join(f"{p}-PER" for p in prefixes)
        raise ValueError(
            f"span_f1 needs {scheme} tags like {tags}, O; got [{shown}]; "
            "give the task entity tags (PREFIX-TYPE or O), or score tags that are not entity spans "
            "with the metrics 'accuracy' or 'f1'"
        )
    return scheme


def entity_spans(tags: Sequence[str], scheme: Literal["BIO", "BIOES"]) -> list[Span]:
    """The entities of one sentence's ``tags``, in order, by the rules of seqeval's strict mode.

    BIO: an entity starts at ``B-X`` and runs over the ``I-X`` that follow; an ``I-X``
    not continuing a ``B-X``/``I-X`` of the same type starts nothing. BIOES: ``S-X`` alone
    is an entity, and so is ``B-X (I-X)* E-X``; a ``B-X ...`` not closed by an ``E-X`` of
    the same type is none.

    Example: ``entity_spans(["B-PER", "I-PER", "O", "I-LOC"], "BIO") == [(0, 2, "PER")]``.
    """
    spans: list[Span] = []
    i, n = 0, len(tags)
    while i < n:
        prefix, kind = tags[i][:1], tags[i][2:]
        if scheme == "BIOES" and prefix == "S":
            spans.append((i, i + 1, kind))
            i += 1
            continue
        if prefix != "B":
            i += 1
            continue
        end = i + 1
        while end < n and tags[end] == f"I-{kind}":
            end += 1
        if scheme == "BIO":
            spans.append((i, end, kind))
        elif end < n and tags[end] == f"E-{kind}":
            end += 1
            spans.append((i, end, kind))
        i = end
    return spans


class SpanF1(Metric):
    """Micro-averaged entity F1 (or precision, or recall) over exact spans and types.

    The CoNLL convention with the semantics of ``seqeval``'s strict mode (its default
    ``f1_score``, ``precision_score``, ``recall_score`` with ``mode="strict"``): a
    predicted entity counts when its start, end and type all match a gold entity.
    precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic mean; each
    0 when its denominator is 0. The counts are summed states, so a DDP reduction is exact.

    Args:
        labels: tag names, index ``i`` naming tag ``i``; ``O`` and ``PREFIX-TYPE`` only.
        scheme: ``"BIO"`` (IOB2), ``"BIOES"``, or ``"auto"`` (BIOES when a label starts
            with ``E-`` or ``S-``).
        value: which number :meth:`compute` returns: ``"f1"``, ``"precision"`` or ``"recall"``.
    """

    higher_is_better: ClassVar[bool] = True
    is_differentiable: ClassVar[bool] = False
    full_state_update: ClassVar[bool] = False

    tp: Tensor
    fp: Tensor
    fn: Tensor

    def __init__(
        self,
        labels: Sequence[str],
        scheme: Scheme = "auto",
        value: Literal["f1", "precision", "recall"] = "f1",
    ) -> None:
        super().__init__()
        if value not in ("f1", "precision", "recall"):
            raise ValueError(f"SpanF1: value must be 'f1', 'precision' or 'recall', got {value!r}")
        self.scheme = span_scheme(labels, scheme)
        self.labels = list(labels)
        self.value = value
        for state in ("tp", "fp", "fn"):
            self.add_state(state, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count one batch: ``preds`` and ``target`` are ``(B, T)`` tag indices, ``target``
        ``-100`` at unlabelled positions; each row's labelled positions, in order, are its words."""
        tp = fp = fn = 0
        for pred_row, gold_row in zip(preds.tolist(), target.tolist()):
            words = [(p, g) for p, g in zip(pred_row, gold_row) if g != IGNORE_INDEX]
            gold = set(entity_spans([self.labels[g] for _, g in words], self.scheme))
            pred = set(entity_spans([self.labels[p] for p, _ in words], self.scheme))
            hit = len(gold & pred)
            tp, fp, fn = tp + hit, fp + len(pred) - hit, fn + len(gold) - hit
        self.tp += tp
        self.fp += fp
        self.fn += fn

    def compute(self) -> Tensor:
        tp, fp, fn = (x.double() for x in (self.tp, self.fp, self.fn))
        precision = tp / (tp + fp) if tp + fp > 0 else torch.zeros_like(tp)
        recall = tp / (tp + fn) if tp + fn > 0 else torch.zeros_like(tp)
        if self.value == "precision":
            return precision.float()
        if self.value == "recall":
            return recall.float()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else torch.zeros_like(tp)
        return f1.float()
