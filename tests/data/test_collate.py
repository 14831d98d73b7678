"""Padding encoded rows into batches: shapes, dtypes and pad values per label type."""

from __future__ import annotations

import datasets
import torch

from mtl.contracts import IGNORE_INDEX
from mtl.data.collate import collate, pad, pad_words


def test_pad_right_pads_to_the_longest_row() -> None:
    out = pad([[1, 2, 3], [4], [5, 6]], 0, torch.long)
    assert out.dtype == torch.long
    assert out.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]]
    out = pad([[1], [1, 1]], -7, torch.long)
    assert out.tolist() == [[1, -7], [1, 1]]
    out = pad([[1, 0], [1]], False, torch.bool)
    assert out.dtype == torch.bool and out.tolist() == [[True, False], [True, False]]


def base_columns() -> dict[str, list]:
    return {
        "input_ids": [[2, 7, 8, 3], [2, 5, 3]],
        "token_type_ids": [[0, 0, 0, 0], [0, 0, 0]],
        "length": [4, 3],
        "index": [5, 1],
    }


def test_classification_batch() -> None:
    batch = collate(base_columns() | {"labels": [1, 0]}, "sst2")
    assert batch["task"] == "sst2"
    assert set(batch) == {"task", "input_ids", "attention_mask", "token_type_ids", "index", "labels"}
    assert batch["input_ids"].dtype == torch.long and batch["input_ids"].tolist() == [[2, 7, 8, 3], [2, 5, 3, 0]]
    assert batch["attention_mask"].dtype == torch.bool
    assert batch["attention_mask"].tolist() == [[True, True, True, True], [True, True, True, False]]
    assert batch["token_type_ids"].dtype == torch.long and batch["token_type_ids"].tolist() == [[0] * 4, [0] * 4]
    assert batch["index"].dtype == torch.long and batch["index"].tolist() == [5, 1]
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [1, 0]


def test_custom_pad_id() -> None:
    batch = collate(base_columns(), "t", pad_id=9)
    assert batch["input_ids"].tolist() == [[2, 7, 8, 3], [2, 5, 3, 9]]
    assert batch["token_type_ids"].tolist() == [[0] * 4, [0] * 4]
    assert "labels" not in batch and "word_starts" not in batch


def test_pair_type_ids_pad_with_zero() -> None:
    columns = {
        "input_ids": [[2, 5, 3, 6, 3], [2, 5, 3]],
        "token_type_ids": [[0, 0, 0, 1, 1], [0, 0, 0]],
        "length": [5, 3],
        "index": [0, 1],
    }
    batch = collate(columns, "nli")
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]
    assert batch["input_ids"].shape == (2, 5)


def test_regression_batch() -> None:
    batch = collate(base_columns() | {"labels": [0.5, 3.0]}, "stsb")
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (2,)
    assert batch["labels"].tolist() == [0.5, 3.0]


def test_multilabel_batch() -> None:
    batch = collate(base_columns() | {"labels": [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]}, "topics")
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (2, 3)
    assert batch["labels"].tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


def test_tagging_batch() -> None:
    columns = base_columns() | {
        "labels": [[-100, 1, -100, -100], [-100, 0, -100]],
        "word_starts": [[0, 1, 0, 0], [0, 1, 0]],
    }
    batch = collate(columns, "pos")
    assert batch["labels"].dtype == torch.long and batch["labels"].shape == (2, 4)
    assert batch["labels"].tolist() == [[-100, 1, -100, -100], [-100, 0, -100, IGNORE_INDEX]]
    assert batch["word_starts"].dtype == torch.bool
    assert batch["word_starts"].tolist() == [[False, True, False, False], [False, True, False, False]]


def test_prediction_batch_has_word_starts_without_labels() -> None:
    batch = collate(base_columns() | {"word_starts": [[0, 1, 1, 0], [0, 1, 0]]}, "predict")
    assert "labels" not in batch
    assert batch["word_starts"].tolist() == [[False, True, True, False], [False, True, False, False]]


def test_collate_of_dataset_rows() -> None:
    """What ``Dataset.__getitem__(list)`` returns collates directly, in the requested row order."""
    split = datasets.Dataset.from_dict(
        base_columns() | {"labels": [[-100, 2, 1, -100], [-100, 0, -100]], "word_starts": [[0, 1, 1, 0], [0, 1, 0]]}
    )
    batch = collate(split[[1, 0]], "pos")
    assert batch["index"].tolist() == [1, 5]
    assert batch["input_ids"].tolist() == [[2, 5, 3, 0], [2, 7, 8, 3]]
    assert batch["labels"].tolist() == [[-100, 0, -100, -100], [-100, 2, 1, -100]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 4]


def test_word_bytes_pad_to_tokens_and_the_longest_word() -> None:
    columns = base_columns() | {
        "word_starts": [[0, 1, 1, 0], [0, 1, 0]],
        "word_bytes": [[[], [5, 6, 7], [8], []], [[], [9, 10], []]],
    }
    batch = collate(columns, "pos")
    assert batch["word_bytes"].dtype == torch.long and batch["word_bytes"].shape == (2, 4, 3)
    assert batch["word_bytes"].tolist() == [
        [[0, 0, 0], [5, 6, 7], [8, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [9, 10, 0], [0, 0, 0], [0, 0, 0]],
    ]
    assert pad_words([[[], []]], 3).shape == (1, 3, 1)  # no words at all: one zero byte each
