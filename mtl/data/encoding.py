"""Turning a task's rows into token ids and label indices with ``Dataset.map``."""

from __future__ import annotations

import math
from typing import Any

import datasets
from tokenizers import Tokenizer

from mtl.contracts import IGNORE_INDEX, MISSING_FLOAT
from mtl.data.corruption import corrupt_for_denoising, mask_for_mlm
from mtl.data.errors import DataError
from mtl.data.predict_inputs import PredictWords, input_words
from mtl.data.source import class_names, is_missing_label, label_to_str
from mtl.data.task import Task
from mtl.data.tokenizer import special_ids, word_by_word

WORD_BYTES_HEAD, WORD_BYTES_TAIL = 4, 12  # a longer word keeps its first 4 and last 12 UTF-8 bytes


class TaskEncoder:
    """Encodes batches of rows of one task (a picklable callable for ``Dataset.map``).

    For tagging, the first sub-word of every word carries the word's label; the others
    get ``IGNORE_INDEX``. ``word_starts`` marks those first sub-words, for decoding, and
    ``word_bytes`` holds the word's spelling there (:func:`word_bytes`), for heads that
    read it. ``words_without_subword`` counts a labelled row's words that the tokenizer
    turns into no token at all (a space, a character its normaliser drops), and
    ``word_without_subword`` spells the first of them: such a word has no position, so
    its label is neither trained on nor scored (see :mod:`mtl.data.words_without_subword`;
    words cut at ``max_length`` are not counted).

    A missing label (:func:`~mtl.data.source.is_missing_label`) is encoded as "no label":
    ``IGNORE_INDEX`` for a class (and for each word of a tagged row without its tags),
    ``MISSING_FLOAT`` for a regression target and across a multi-hot row; heads leave
    such rows out of their loss and metrics (:func:`mtl.contracts.labelled_rows`).
    """

    def __init__(
        self, task: Task, tokenizer: Tokenizer, labels: list[str], split: str, class_names: list[str] | None = None
    ) -> None:
        self.task = task
        self.class_names = class_names
        self.labels = labels
        self.split = split
        self.label_index = {name: i for i, name in enumerate(labels)}
        self.special_ids = special_ids(tokenizer)
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.enable_truncation(task.max_length)
        self.tokenizer.no_padding()
        self.word_tokenizer = word_by_word(self.tokenizer)  # for columns of pre-split words
        self.word_bytes = (WORD_BYTES_HEAD, WORD_BYTES_TAIL)  # part of the cache fingerprint
        self.lists_words_without_subword = True  # likewise: a cache without that column is not reused

    def __call__(self, rows: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        task = self.task
        texts = rows[task.text]
        # a column of word lists (tagging, or any task over pre-split text) is encoded as
        # pre-tokenized words; a column of strings as raw text
        words = task.type == "tagging" or (len(texts) > 0 and isinstance(texts[0], list))
        if task.text_pair is not None:
            pairs = list(zip(texts, rows[task.text_pair]))
            encodings = self._tokenizer(words).encode_batch(pairs, is_pretokenized=words)
        else:
            encodings = self._tokenizer(words).encode_batch(
                [list(t) for t in texts] if words else list(texts), is_pretokenized=words
            )
        out: dict[str, list[Any]] = {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [segment_ids(e) for e in encodings],
            "length": [len(e.ids) for e in encodings],
            "index": list(indices),
        }
        if task.self_supervised:
            return self._corrupt(out)
        if task.label in rows:
            values = rows[task.label]
            if task.type == "tagging":
                pairs = [self._tags(e.word_ids, v) for e, v in zip(encodings, values)]
                out["labels"] = [labels for labels, _ in pairs]
                out["word_starts"] = [starts for _, starts in pairs]
                lost = [without_subword(e, list(words)) for e, words in zip(encodings, texts)]
                out["words_without_subword"] = [len(words) for words in lost]  # scalar columns: an all-empty
                out["word_without_subword"] = [words[0] if words else "" for words in lost]  # list has no type
            else:
                out["labels"] = [self._label(v) for v in values]
        elif task.type == "tagging":
            out["word_starts"] = [_word_starts(e.word_ids) for e in encodings]
        if task.type == "tagging":
            out["word_bytes"] = [word_bytes(_first_segment(e), list(words)) for e, words in zip(encodings, texts)]
        return out

    def _corrupt(self, out: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Self-supervised tasks: the encoder reads corrupted ids; the labels are the
        original ids (``denoising``, with ``label_length``) or the ids at the masked
        positions (``mlm``, ``-100`` elsewhere)."""
        spec, vocab = self.task.corruption, self.tokenizer.get_vocab_size()
        ids = self.special_ids
        special, mask_id = {ids.pad, ids.cls, ids.sep, ids.mask}, ids.mask
        inputs, labels = [], []
        for ids, row in zip(out["input_ids"], out["index"]):
            rng = spec.rng(self.split, row)
            if self.task.type == "denoising":
                inputs.append(corrupt_for_denoising(ids, special, mask_id, spec, rng))
                labels.append(list(ids))
            else:
                corrupted, targets = mask_for_mlm(ids, special, mask_id, vocab, spec, rng)
                inputs.append(corrupted)
                labels.append(targets)
        out["input_ids"], out["labels"] = inputs, labels
        out["length"] = [len(ids) for ids in inputs]
        out["token_type_ids"] = [[0] * len(ids) for ids in inputs] if self.task.type == "denoising" else out["token_type_ids"]
        out["label_length"] = [len(ids) for ids in labels]
        return out

    def _tokenizer(self, words: bool) -> Tokenizer:
        return self.word_tokenizer if words else self.tokenizer

    def _missing(self, value: Any) -> bool:
        return is_missing_label(value, self.task.missing_value)

    def _label(self, value: Any) -> Any:
        if self._missing(value):
            if self.task.type == "multilabel":
                return [MISSING_FLOAT] * len(self.labels)
            return MISSING_FLOAT if self.task.type == "regression" else IGNORE_INDEX
        if self.task.type == "regression":
            target = float(value)
            if not math.isfinite(target):
                raise self._unknown(value)
            return target
        if self.task.type == "multilabel":
            hot = [0.0] * len(self.labels)
            for name in value:
                hot[self._index(name)] = 1.0
            return hot
        return self._index(value)

    def _tags(self, word_ids: list[int | None], tags: list[Any] | None) -> tuple[list[int], list[int]]:
        if self._missing(tags):  # a row without tags: every word's is missing
            tags = [None] * (1 + max((w for w in word_ids if w is not None), default=-1))
        labels, starts, previous = [], [], None
        for word in word_ids:
            first = word is not None and word != previous
            labels.append(self._index(tags[word]) if first and not self._missing(tags[word]) else IGNORE_INDEX)
            starts.append(int(first))
            previous = word
        return labels, starts

    def _index(self, value: Any) -> int:
        try:
            return self.label_index[value if isinstance(value, str) else label_to_str(value, self.class_names)]
        except KeyError:
            raise self._unknown(value) from None

    def _unknown(self, value: Any) -> DataError:
        shown = self.labels if len(self.labels) <= 20 else self.labels[:20] + ["..."]
        return DataError(
            f"task {self.task.name!r}: column {self.task.label!r} in split {self.split!r} has value {value!r} "
            f"not in labels {shown}; add it to `labels:` or fix the data"
        )


def word_bytes(word_ids: list[int | None], words: list[str]) -> list[list[int]]:
    """Per token, the UTF-8 bytes (+1: 0 is ``NO_BYTE``, padding) of the word it starts, ``[]`` at
    tokens that start none; a word longer than 16 bytes keeps its first 4 and last 12."""
    out, previous = [], None
    for word in word_ids:
        if word is not None and word != previous:
            raw = str(words[word]).encode("utf-8")
            if len(raw) > WORD_BYTES_HEAD + WORD_BYTES_TAIL:
                raw = raw[:WORD_BYTES_HEAD] + raw[-WORD_BYTES_TAIL:]
            out.append([b + 1 for b in raw])
        else:
            out.append([])
        previous = word
    return out


def without_subword(encoding: Any, words: list[str]) -> list[str]:
    """The words of the encoding's first text that got no token, among those it read: all
    words when the text was read whole, those before the last word read when it was cut."""
    present = _words_with_tokens(_first_segment(encoding), len(words))
    return [str(words[i]) for i in range(_words_before_cut(encoding, len(words))) if not present[i]]


def _word_starts(word_ids: list[int | None]) -> list[int]:
    starts, previous = [], None
    for word in word_ids:
        starts.append(int(word is not None and word != previous))
        previous = word
    return starts


def encode_split(split: datasets.Dataset, task: Task, tokenizer: Tokenizer, labels: list[str], role: str) -> datasets.Dataset:
    """Tokenize one split with ``Dataset.map(batched=True)`` (cached by the datasets
    library when the split comes from files) and keep only the encoded columns."""
    names = class_names(split.features[task.label]) if task.label in split.features else None
    encoder = TaskEncoder(task, tokenizer, labels, role, names)
    return split.map(
        encoder,
        batched=True,
        with_indices=True,
        remove_columns=split.column_names,  # outputs replace same-named inputs
        desc=f"Encoding {task.name}/{role}",
    )


class InputEncoder:
    """Encodes raw inputs for prediction so that every head can read the same batch:
    texts split into words as ``split`` says, word lists as given (see
    :func:`mtl.data.predict_inputs.input_words`; so tagging heads get ``word_starts``), and
    the second text of a pair in segment 1 when given.

    Inputs are read whole unless ``max_length`` (sub-word tokens, special tokens included)
    is given. Besides the encoding, every row gets ``words`` (the first text's word count),
    ``words_read`` (those before the cut; fewer when cut at ``max_length``),
    ``word_has_token`` (per word, 1 when it has a token in the encoding: 0 past the cut and
    for a word that produces no sub-word, such as a lone space) and ``blank`` (1 when a text
    is empty or missing: nothing to predict from).
    """

    def __init__(
        self, tokenizer: Tokenizer, text: str, text_pair: str | None, max_length: int | None, split: PredictWords = "whitespace"
    ) -> None:
        self.text, self.text_pair, self.split = text, text_pair, split
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        if max_length:
            self.tokenizer.enable_truncation(max_length)
        else:
            self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.tokenizer = word_by_word(self.tokenizer)  # inputs are split into words

    def __call__(self, rows: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        firsts = [input_words(t, self.split) for t in rows[self.text]]
        blank = [not words for words in firsts]
        if self.text_pair is not None:
            seconds = [input_words(t, self.split) for t in rows[self.text_pair]]
            blank = [b or not words for b, words in zip(blank, seconds)]
            encodings = self.tokenizer.encode_batch(list(zip(firsts, seconds)), is_pretokenized=True)
        else:
            encodings = self.tokenizer.encode_batch(firsts, is_pretokenized=True)
        return {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [segment_ids(e) for e in encodings],
            "word_starts": [_word_starts(_first_segment(e)) for e in encodings],
            "word_bytes": [word_bytes(_first_segment(e), words) for e, words in zip(encodings, firsts)],
            "length": [len(e.ids) for e in encodings],
            "index": list(indices),
            "words": [len(words) for words in firsts],
            "words_read": [_words_before_cut(e, len(words)) for e, words in zip(encodings, firsts)],
            "word_has_token": [_words_with_tokens(_first_segment(e), len(words)) for e, words in zip(encodings, firsts)],
            "blank": [int(b) for b in blank],
        }


def _words_before_cut(encoding: Any, count: int) -> int:
    """``count``, or for an encoding cut at the length limit, the words before the cut."""
    if not encoding.overflowing:
        return count
    return max((w + 1 for w in _first_segment(encoding) if w is not None), default=0)


def _words_with_tokens(word_ids: list[int | None], count: int) -> list[int]:
    """Per word of ``count``, 1 when one of ``word_ids`` names it."""
    present = set(word_ids)
    return [int(i in present) for i in range(count)]


def segment_ids(encoding: Any) -> list[int]:
    """Per token, 0 in the first text and 1 in a pair's second: the tokenizer's type ids,
    or, where its template gives every token type 0 (RoBERTa's ``<s> a </s></s> b </s>``),
    1 from the second text's first token on. Encoders with segment embeddings read these;
    pair pooling tells the two texts apart by them."""
    types = encoding.type_ids
    if any(types):
        return list(types)
    sequences = encoding.sequence_ids
    if 1 not in sequences:
        return list(types)
    start = sequences.index(1)
    return [0] * start + [1] * (len(types) - start)


def _first_segment(encoding: Any) -> list[int | None]:
    """The encoding's word ids, ``None`` outside the first segment (a pair's second segment
    counts its words from 0 again, so its ids would name the first segment's words)."""
    return [w if t == 0 else None for w, t in zip(encoding.word_ids, segment_ids(encoding))]
