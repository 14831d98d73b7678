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
    """A blank input gets no prediction: null values and a ``note``. Tags sit at their
    words: a word that produces no sub-word token (a lone space, a character the
    tokenizer drops) gets a null tag and is named in ``no_token``; an input cut to the
    length the model reads gets null tags past the cut, a ``truncated`` field and a
    ``note``. Reads ``batch["blank"]``, ``["words"]``, ``["words_read"]`` and
    ``["word_has_token"]`` (see :class:`mtl.data.encoding.InputEncoder`) when present."""
    blank = batch["blank"].tolist() if "blank" in batch else [0] * len(records)
    words = batch["words"].tolist() if "words" in batch else [0] * len(records)
    read = batch["words_read"].tolist() if "words_read" in batch else words
    has_token = batch["word_has_token"].tolist() if "word_has_token" in batch else [[1] * n for n in words]
    for record, is_blank, n, k, present in zip(records, blank, words, read, has_token):
        if is_blank:
            record.update({key: None for key in record if key != "index"})
            record["note"] = "blank input: no prediction"
            continue
        for task in tagging:
            if isinstance(record.get(task), list):
                tags = iter(record[task])
                record[task] = [next(tags, None) if present[j] else None for j in range(n)]
        silent = [j for j in range(k) if not present[j]]
        notes = []
        if silent and tagging:
            record["no_token"] = silent
            notes.append(f"word(s) {silent} (counted from 0) produce no sub-word token: their tags are null")
        if k < n:
            record["truncated"] = {"words": n, "words_read": k}
            notes.append(
                f"input longer than the model reads: predictions from its first {k} of {n} words, the other words' tags are null"
            )
        if notes:
            record["note"] = "; ".join(notes)
    return records
