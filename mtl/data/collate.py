"""Padding a list of encoded rows into one batch of tensors."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mtl.contracts import IGNORE_INDEX, NO_BYTE, SpecialIds, TaskBatch


def pad(rows: list[list[Any]], value: Any, dtype: torch.dtype) -> Tensor:
    """Right-pad ragged rows to the longest one. Returns ``(B, T)``."""
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(row, dtype=dtype)
    return out


def pad_words(rows: list[list[list[int]]], width: int) -> Tensor:
    """Per row, per token, a list of ints (a word's bytes) -> ``(B, width, C)`` long, padded
    with ``NO_BYTE`` to the longest list (at least 1)."""
    depth = max([1] + [len(word) for row in rows for word in row])
    out = torch.full((len(rows), width, depth), NO_BYTE, dtype=torch.long)
    for i, row in enumerate(rows):
        for j, word in enumerate(row):
            if word:
                out[i, j, : len(word)] = torch.as_tensor(word, dtype=torch.long)
    return out


def collate(columns: dict[str, list[Any]], task: str, pad_id: int = SpecialIds().pad) -> TaskBatch:
    """Build a task batch (see :class:`~mtl.contracts.TaskBatch` for its keys and shapes)
    from column lists (as ``Dataset.__getitem__(list)`` returns); ``input_ids`` padded
    with ``pad_id``, tags and the token ids of self-supervised tasks with ``IGNORE_INDEX``.
    """
    input_ids = pad(columns["input_ids"], pad_id, torch.long)  # (B, T)
    batch: TaskBatch = {
        "task": task,
        "input_ids": input_ids,
        "attention_mask": pad([[1] * n for n in columns["length"]], 0, torch.bool),  # (B, T)
        "token_type_ids": pad(columns["token_type_ids"], 0, torch.long),  # (B, T)
        "index": torch.as_tensor(columns["index"], dtype=torch.long),  # (B,)
    }
    if "word_starts" in columns:
        batch["word_starts"] = pad(columns["word_starts"], 0, torch.bool)  # (B, T)
    if "word_bytes" in columns:
        batch["word_bytes"] = pad_words(columns["word_bytes"], input_ids.size(1))  # (B, T, C)
    for key in ("words", "words_read", "blank"):  # prediction inputs (see InputEncoder)
        if key in columns:
            batch[key] = torch.as_tensor(columns[key], dtype=torch.long)  # (B,)
    if "word_has_token" in columns:
        batch["word_has_token"] = pad(columns["word_has_token"], 0, torch.bool)  # (B, W)
    if "labels" in columns:
        labels = columns["labels"]
        first = labels[0]
        if isinstance(first, list) and ("word_starts" in columns or "label_length" in columns):
            batch["labels"] = pad(labels, IGNORE_INDEX, torch.long)  # (B, T) tags or token ids (B, T')
        elif isinstance(first, list):
            batch["labels"] = torch.as_tensor(labels, dtype=torch.float)  # (B, C) multi-hot
        elif isinstance(first, float):
            batch["labels"] = torch.as_tensor(labels, dtype=torch.float)  # (B,)
        else:
            batch["labels"] = torch.as_tensor(labels, dtype=torch.long)  # (B,)
    return batch
