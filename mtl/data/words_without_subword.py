"""Labelled words that the tokenizer turns into no token (a space in character-level data,
a character its normaliser drops): they have no position in the encoding, so their labels
are neither trained on nor scored. Counted from the encoded split's columns (so a split read
from the ``datasets`` cache is counted too) and said once."""

from __future__ import annotations

from dataclasses import dataclass

import datasets

#: how many distinct such words the warning shows
EXAMPLES = 3


@dataclass(frozen=True)
class WordsWithoutSubword:
    """How many of a split's labelled words produce no sub-word token.

    Args:
        task: the task's name.
        split: the split's role (``train``, ``validation``, ``test``).
        count: labelled words without a token (words cut at ``max_length`` not included).
        total: labelled words the encoding holds, these included.
        examples: a few of them, distinct.
    """

    task: str
    split: str
    count: int
    total: int
    examples: tuple[str, ...]

    @property
    def metric(self) -> str:
        """Its name in the loggers: ``data/<task>/<split>/words_without_subword``."""
        return f"data/{self.task}/{self.split}/words_without_subword"

    def line(self) -> str:
        shown = ", ".join(repr(word) for word in self.examples)
        return (
            f"task {self.task!r}: {self.count:,} of {self.total:,} labelled words in split {self.split!r} produce no "
            f"sub-word token (e.g. {shown}); their labels are not trained on or scored. Map them to a visible "
            "character in the data (e.g. '_' for ' ') or read the text with a tokenizer that keeps them"
        )


def count_words_without_subword(encoded: datasets.Dataset, task: str, split: str) -> WordsWithoutSubword | None:
    """The split's words without a token, from the columns that
    :class:`mtl.data.encoding.TaskEncoder` writes for labelled tagging rows; None when it
    has none (or is not such a split)."""
    if "words_without_subword" not in encoded.column_names:
        return None
    counts = encoded["words_without_subword"]
    count = sum(counts)
    if count == 0:
        return None
    examples: list[str] = []
    for n, word in zip(counts, encoded["word_without_subword"]):
        if n and word not in examples:
            examples.append(word)
            if len(examples) == EXAMPLES:
                break
    read = sum(sum(starts) for starts in encoded["word_starts"])  # one start per word with a token
    return WordsWithoutSubword(task, split, count, count + read, tuple(examples))
