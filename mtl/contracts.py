"""What the parts of a run agree on: the batch a data loader yields and heads read, the kinds
of labels a task carries, the label index (and float) that means "no label here", the rows
of a batch that carry a label, and the tokenizer's special token ids.

Defined once, here; the data module, the encoders, the heads and the module import them.
"""

# (No `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations.)
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import NotRequired, TypedDict

import torch
from torch import Tensor

#: Label positions that carry no label: special tokens, later sub-words of a word, padding,
#: unmasked tokens of a masked LM. ``F.cross_entropy``'s default ``ignore_index``.
IGNORE_INDEX = -100

#: A float label that is missing (regression targets; every entry of a multi-hot row): the
#: row trains and scores its task's head on nothing. Class and tag labels that are missing
#: are ``IGNORE_INDEX``. Real float labels are finite, so NaN never means a value.
MISSING_FLOAT = math.nan

#: ``word_bytes`` padding: byte values are stored + 1, so 0 is no byte.
NO_BYTE = 0


@dataclass(frozen=True)
class SpecialIds:
    """The ids of the tokenizer's special tokens, read from the tokenizer by the data module
    (:func:`mtl.data.tokenizer.special_ids`) and handed to the model like the vocabulary
    size: encoders use ``pad`` as their embedding's padding row, heads that read or write
    token ids use the others. The defaults are the ids of the tokenizers mtl trains
    (``[PAD] [UNK] [CLS] [SEP] [MASK]`` first, in that order); a RoBERTa-style vocabulary
    has ``pad`` 1.

    Args:
        pad: padding (``input_ids`` past a row's end).
        unk: unknown token.
        cls: the token that starts every sequence (BERT's ``[CLS]``, RoBERTa's ``<s>``).
        sep: the token that ends a segment (BERT's ``[SEP]``, RoBERTa's ``</s>``).
        mask: the masked-out token of the self-supervised tasks.
    """

    pad: int = 0
    unk: int = 1
    cls: int = 2
    sep: int = 3
    mask: int = 4


class LabelKind(StrEnum):
    """What a task puts in ``batch["labels"]``; a task's type fixes its kind (see
    :data:`mtl.data.task.LABEL_TYPE`) and a head declares the kind it reads (its
    ``label_type``): the two must be equal. The values are the strings used before the
    enum, so a ``LabelKind`` compares equal to its string."""

    CLASS = "class"  # (B,) long class indices, IGNORE_INDEX where the row's label is missing
    MULTILABEL = "multilabel"  # (B, C) float multi-hot, a row of MISSING_FLOAT where missing
    FLOAT = "float"  # (B,) float targets, MISSING_FLOAT where missing
    TAGS = "tags"  # (B, T) long tag indices, IGNORE_INDEX where no label is carried (or it is missing)
    SEQUENCE = "sequence"  # (B, T') long original token ids, IGNORE_INDEX padding
    MASKED_TOKENS = "masked_tokens"  # (B, T) long original ids at masked positions, IGNORE_INDEX elsewhere

    def __repr__(self) -> str:  # messages show 'class', as they did when kinds were strings
        return repr(self.value)


def labelled_rows(labels: Tensor, kind: LabelKind) -> Tensor:
    """``(B,)`` bool, True at the rows of a batch that carry a label of their task: a row of
    an input group may carry labels of some of its tasks only (a missing label is
    ``IGNORE_INDEX`` or ``MISSING_FLOAT``); a tagged row counts when one of its words has a
    tag; self-supervised rows always count."""
    if kind == LabelKind.CLASS:
        return labels != IGNORE_INDEX  # (B,)
    if kind == LabelKind.FLOAT:
        return ~torch.isnan(labels)  # (B,)
    if kind == LabelKind.MULTILABEL:
        return ~torch.isnan(labels).any(dim=-1)  # (B, C) -> (B,)
    if kind == LabelKind.TAGS:
        return (labels != IGNORE_INDEX).any(dim=-1)  # (B, T) -> (B,)
    return torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)  # (B,)


class TaskBatch(TypedDict):
    """One task's batch, as :func:`mtl.data.collate.collate` builds it and heads read it.

    B rows, T sub-word positions, right-padded (real tokens first).
    """

    task: str  # the task's name
    input_ids: Tensor  # (B, T) long, the tokenizer's pad id at padding
    attention_mask: Tensor  # (B, T) bool, True at real tokens
    token_type_ids: Tensor  # (B, T) long, 0 for the first segment, 1 for a pair's second
    index: Tensor  # (B,) long, row numbers in the split
    labels: NotRequired[Tensor]  # absent when predicting; shape and dtype per LabelKind
    word_starts: NotRequired[Tensor]  # (B, T) bool, tagging: True at the sub-word carrying a word's label
    word_bytes: NotRequired[Tensor]  # (B, T, C) long, tagging: UTF-8 bytes + 1 at a word's first sub-word, else 0
    words: NotRequired[Tensor]  # (B,) long, predicting: words of the first text
    words_read: NotRequired[Tensor]  # (B,) long, predicting: of those, words before the cut (fewer when cut)
    word_has_token: NotRequired[Tensor]  # (B, W) bool, predicting: the word has a token (not past the cut, not silent)
    blank: NotRequired[Tensor]  # (B,) long, predicting: 1 where a text is empty or missing
    group: NotRequired[str]  # training: the first task with the same encoder inputs (see input_groups)
