"""Comparing the source run's tokenizer with the new run's, and carrying embedding rows
over by token when they differ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import Tensor


def read_vocabulary(path: str | Path) -> dict[str, int]:
    """Token to id of a ``tokenizer.json``."""
    return Tokenizer.from_file(str(path)).get_vocab()


@dataclass
class VocabularyMatch:
    """How two vocabularies relate: sizes, tokens in both, and of those, tokens at the same id."""

    source_size: int
    target_size: int
    shared: int
    same_id: int

    @property
    def identical(self) -> bool:
        return self.source_size == self.target_size == self.same_id

    def describe(self) -> str:
        return (
            f"{self.target_size} tokens against the source's {self.source_size}; {self.shared} tokens are in both, "
            f"{self.same_id} of them at the same id"
        )


def compare_vocabularies(source: dict[str, int], target: dict[str, int]) -> VocabularyMatch:
    shared = source.keys() & target.keys()
    return VocabularyMatch(len(source), len(target), len(shared), sum(source[t] == target[t] for t in shared))


def map_rows(source_table: Tensor, target_table: Tensor, source: dict[str, int], target: dict[str, int]) -> tuple[Tensor, int]:
    """``target_table`` ``(V_t, E)`` with the rows of tokens found in ``source`` replaced by
    their rows of ``source_table`` ``(V_s, E)``; the other rows keep their fresh
    initialisation. Returns the table and the number of rows copied."""
    pairs = [(target[t], source[t]) for t in target.keys() & source.keys()]
    table = target_table.detach().clone()
    if pairs:
        to_ids, from_ids = (torch.tensor(ids) for ids in zip(*pairs))
        table[to_ids] = source_table[from_ids].to(table.dtype)  # (N, E) rows by token
    return table, len(pairs)
