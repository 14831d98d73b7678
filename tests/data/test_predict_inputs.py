"""Word lists in prediction inputs: read as given, refused by row and column when no task
reads words or when an item is not a string."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from mtl.data.errors import DataError
from mtl.data.predict_inputs import check_word_lists

PATH = Path("inputs.jsonl")


def test_word_lists_need_a_task_that_reads_words() -> None:
    rows = datasets.Dataset.from_dict({"text": [["a", "cat"], ["the", "sun"]], "other": ["x", "y"]})
    check_word_lists(rows, PATH, ["text", "other"], reads_word_lists=True)
    with pytest.raises(DataError, match=r"'inputs.jsonl', row 1, column 'text' holds a list of words, .* one string"):
        check_word_lists(rows, PATH, ["text"], reads_word_lists=False)
    check_word_lists(rows, PATH, ["other"], reads_word_lists=False)  # strings: fine


def test_words_must_be_strings() -> None:
    rows = datasets.Dataset.from_dict({"text": [[1, 2]]})
    with pytest.raises(DataError, match=r"row 1, column 'text': word 1 is not a string; give pre-split words as a list"):
        check_word_lists(rows, PATH, ["text"], reads_word_lists=True)
