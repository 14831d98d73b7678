"""Read Universal Dependencies CoNLL-U files into one row per sentence.

A task declares ``source: {path: conllu, data_files: {train: ..., validation: ...}}`` and
:func:`mtl.data.source.load_task_splits` calls :func:`load_conllu` with the rest of the
source. Each row holds the sentence's syntactic words and their annotation:

``sent_id`` (str), ``text`` (str), ``tokens``, ``lemmas``, ``upos``, ``xpos``, ``feats``,
``deprel`` (lists of str) and ``head`` (list of int).

Multi-word token lines (ID ``3-4``) are skipped: their parts, the syntactic words, carry
the labels. Empty nodes (ID ``8.1``) of enhanced dependencies are skipped too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import datasets

from mtl.data.errors import DataError
from mtl.data.file_splits import load_file_splits

#: The columns of a CoNLL-U word line, in file order.
FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")

#: The columns of the loaded dataset.
FEATURES = datasets.Features(
    {
        "sent_id": datasets.Value("string"),
        "text": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "lemmas": datasets.Sequence(datasets.Value("string")),
        "upos": datasets.Sequence(datasets.Value("string")),
        "xpos": datasets.Sequence(datasets.Value("string")),
        "feats": datasets.Sequence(datasets.Value("string")),
        "head": datasets.Sequence(datasets.Value("int32")),
        "deprel": datasets.Sequence(datasets.Value("string")),
    }
)

_SHOWN_CHARS = 80


def read_conllu(path: str | os.PathLike[str]) -> Iterator[dict]:
    """Stream the sentences of one CoNLL-U file.

    Args:
        path: the ``.conllu`` file.

    Yields:
        One dict per sentence with the columns of :data:`FEATURES`. ``sent_id`` falls back
        to ``<file name>:<sentence number>`` and ``text`` to the surface tokens joined by
        spaces (respecting ``SpaceAfter=No``) when the comments lack them.

    Raises:
        DataError: a line without 10 tab-separated fields, or with a non-integer ID or
            HEAD; the message names the file, the line number and the line.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as lines:
        sentence = _Sentence()
        count = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if sentence.words:
                    count += 1
                    yield sentence.row(f"{path.name}:{count}")
                sentence = _Sentence()
            elif line.startswith("#"):
                sentence.comment(line)
            else:
                sentence.add(_parse_line(line, path, number))
        if sentence.words:
            count += 1
            yield sentence.row(f"{path.name}:{count}")


def load_conllu(data_files: dict[str, str | list[str]] | str | list[str]) -> datasets.DatasetDict:
    """Load CoNLL-U files as a ``DatasetDict``, cached by the ``datasets`` library.

    The cache key covers each file's resolved path, size and modification time, so an
    edited file is read again (see :func:`mtl.data.file_splits.load_file_splits`).

    Args:
        data_files: split name to one file or a list of files (read in order); a bare file
            or list is the ``train`` split, as in ``datasets.load_dataset``.

    Returns:
        One ``Dataset`` per split with the columns of :data:`FEATURES`.

    Raises:
        DataError: a file is missing, malformed, or holds no sentence.
    """
    return load_file_splits(data_files, read_conllu, FEATURES, "CoNLL-U")


def _parse_line(line: str, path: Path, number: int) -> list[str] | None:
    """Split and check one word line; ``None`` for an empty node."""
    fields = line.split("\t")
    if len(fields) != len(FIELDS):
        _fail(path, number, line, f"10 tab-separated fields, found {len(fields)}")
    word_id = fields[0]
    if "." in word_id:  # empty node, e.g. 8.1
        major, _, minor = word_id.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            _fail(path, number, line, f"an integer ID, a range like 3-4 or a decimal like 8.1, found {word_id!r}")
        return None
    if "-" in word_id:  # multi-word token, e.g. 3-4
        start, _, end = word_id.partition("-")
        if not (start.isdigit() and end.isdigit()):
            _fail(path, number, line, f"an integer ID, a range like 3-4 or a decimal like 8.1, found {word_id!r}")
        return fields
    if not word_id.isdigit():
        _fail(path, number, line, f"an integer ID, found {word_id!r}")
    if not fields[6].isdigit():
        _fail(path, number, line, f"an integer HEAD (column 7), found {fields[6]!r}")
    return fields


def _fail(path: Path, number: int, line: str, expected: str) -> None:
    shown = line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "..."
    raise DataError(f"{path}:{number}: malformed CoNLL-U line {shown!r}: expected {expected}")


class _Sentence:
    """Collects the lines of one sentence."""

    def __init__(self) -> None:
        self.sent_id: str | None = None
        self.text: str | None = None
        self.words: list[list[str]] = []
        self.surface: list[tuple[str, str]] = []  # (form, misc) of each surface token
        self._covered_until = 0  # last word ID covered by a multi-word token

    def comment(self, line: str) -> None:
        key, sep, value = line[1:].partition("=")
        if not sep:
            return
        key = key.strip()
        if key == "sent_id":
            self.sent_id = value.strip()
        elif key == "text":
            self.text = value.strip()

    def add(self, fields: list[str] | None) -> None:
        if fields is None:
            return
        if "-" in fields[0]:
            self._covered_until = int(fields[0].partition("-")[2])
            self.surface.append((fields[1], fields[9]))
            return
        self.words.append(fields)
        if int(fields[0]) > self._covered_until:
            self.surface.append((fields[1], fields[9]))

    def row(self, fallback_id: str) -> dict:
        columns = list(zip(*self.words))
        return {
            "sent_id": self.sent_id if self.sent_id is not None else fallback_id,
            "text": self.text if self.text is not None else self._joined(),
            "tokens": list(columns[1]),
            "lemmas": list(columns[2]),
            "upos": list(columns[3]),
            "xpos": list(columns[4]),
            "feats": list(columns[5]),
            "head": [int(h) for h in columns[6]],
            "deprel": list(columns[7]),
        }

    def _joined(self) -> str:
        parts = []
        for i, (form, misc) in enumerate(self.surface):
            parts.append(form)
            if i < len(self.surface) - 1 and "SpaceAfter=No" not in misc.split("|"):
                parts.append(" ")
        return "".join(parts)
