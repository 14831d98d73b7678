"""Decoded predictions: every task's output for each input row, as plain records."""

from __future__ import annotations

from typing import Any

from mtl.encoders.base import encode_batch
from mtl.encoders.output import EncoderOutput
from mtl.model import MultiTaskModel, TaskBatch


def predict_records(model: MultiTaskModel, batch: TaskBatch) -> list[dict[str, Any]]:
    """Every task's decoded prediction for each input, with its row ``index``; blank
    and cut inputs are marked (see :func:`mark_blank_and_cut_inputs`)."""
    has_pair = bool((batch["token_type_ids"] == 1).any())
    records: list[dict[str, Any]] = [{"index": int(i)} for i in batch["index"]]
    encoded: dict[int, EncoderOutput] = {}  # one pass per distinct encoder
    for task, head in model.heads.items():
        if head.requires_text_pair and not has_pair:
            continue
        encoder = model.encoder_for(task)
        if id(encoder) not in encoded:
            encoded[id(encoder)] = encode_batch(encoder, batch)
        logits = head(encoded[id(encoder)], batch)
        for record, value in zip(records, head.decode(logits, batch)):
            record[task] = value
        if head.label_type == "class":
            for record, p in zip(records, logits.softmax(-1).amax(-1).tolist()):
                record[f"{task}_probability"] = round(p, 4)
    tagging = [task for task, head in model.heads.items() if head.label_type == "tags"]
    return mark_blank_and_cut_inputs(records, batch, tagging)


def mark_blank_and_cut_inputs(records: list[dict[str, Any]], batch: TaskBatch, tagging: list[str]) -> list[dict[str, Any]]:
    """A blank input gets no prediction: null values and a ``note``. An input cut to the
    length the model reads gets null tags for the words past the cut (one tag per word
    still), a ``truncated`` field and a ``note``. Reads ``batch["blank"]``, ``["words"]``
    and ``["words_read"]`` (see :class:`mtl.data.encoding.InputEncoder`) when present."""
    blank = batch["blank"].tolist() if "blank" in batch else [0] * len(records)
    words = batch["words"].tolist() if "words" in batch else [0] * len(records)
    read = batch["words_read"].tolist() if "words_read" in batch else words
    for record, is_blank, n, k in zip(records, blank, words, read):
        if is_blank:
            record.update({key: None for key in record if key != "index"})
            record["note"] = "blank input: no prediction"
        elif k < n:
            for task in tagging:
                if isinstance(record.get(task), list):
                    record[task] = record[task] + [None] * (n - len(record[task]))
            record["truncated"] = {"words": n, "words_read": k}
            record["note"] = (
                f"input longer than the model reads: predictions from its first {k} of {n} words, the other words' tags are null"
            )
    return records
