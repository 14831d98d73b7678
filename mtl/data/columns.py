"""Read one-token-per-line column files (CoNLL-2003 NER, character-level NER, chunking).

A task declares the fields of a line, in file order, and picks its columns by name::

    source: {path: columns, data_files: {train: ner/train.tsv, validation: ner/dev.tsv},
             columns: [tokens, ner], comment: "##"}
    text: tokens
    label: ner
    type: tagging

:func:`mtl.data.source.load_task_splits` calls :func:`load_columns` with the rest of the
source. The format:

- one token per line, its fields split at ``separator`` (a tab by default; ``null`` splits
  at any run of whitespace, for space-separated files such as CoNLL-2003);
- a blank line ends a sentence (several in a row are one break; the last sentence needs
  none); blank means empty once the line end (``\\n`` or ``\\r\\n``) is removed, or, when
  ``separator`` is ``null``, only whitespace;
- a line starting with ``comment`` (when given) is skipped;
- a line whose first field is ``document_marker`` (``-DOCSTART-`` by default, as in
  CoNLL-2003's ``-DOCSTART- -X- -X- O``) ends a sentence and is no token; ``null`` keeps
  such lines as tokens.

Fields are not stripped when the separator is a tab (or any given string): a token may be
a single space (character-level data) or hold spaces (``New York``). A UTF-8 byte order
mark at the start of a file is dropped.

Each row holds ``sent_id`` (``<file name>:<sentence number>``, counted from 1 in each
file) and one list of strings per name in ``columns``; a field named ``_`` is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets

from mtl.data.errors import DataError
from mtl.data.file_splits import load_file_splits

#: The column naming each row's sentence; no field of ``columns`` may take this name.
SENT_ID = "sent_id"
#: A name in ``columns`` for a field to skip (may appear several times).
SKIP = "_"

_SHOWN_CHARS = 80


def column_features(columns: Sequence[str]) -> datasets.Features:
    """The loaded dataset's columns: ``sent_id`` (str), then one list of str per kept field."""
    kept = {name: datasets.Sequence(datasets.Value("string")) for name in columns if name != SKIP}
    return datasets.Features({SENT_ID: datasets.Value("string"), **kept})


def read_columns(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    separator: str | None = "\t",
    comment: str | None = None,
    document_marker: str | None = "-DOCSTART-",
    encoding: str = "utf-8",
) -> Iterator[dict]:
    """Stream the sentences of one column file.

    Args:
        path: the file.
        columns: a name for each field of a line, in file order; ``_`` skips a field.
        separator: what splits the fields; ``None`` splits at any run of whitespace.
        comment: lines starting with it are skipped (``None``: no comments).
        document_marker: a line whose first field equals it ends a sentence and is no
            token (``None``: no such lines).
        encoding: the file's text encoding.

    Yields:
        One dict per sentence with the columns of :func:`column_features`.

    Raises:
        DataError: bad options, or a line with another number of fields than
            ``columns``; the message names the file, the line number, the line and the fix.
    """
    check_options(columns, separator, comment, document_marker)
    path = Path(path)
    kept = [(i, name) for i, name in enumerate(columns) if name != SKIP]
    words: list[list[str]] = []
    count = 0
    with path.open(encoding=encoding, newline="\n") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if number == 1:
                line = line.removeprefix("\ufeff")
            if comment is not None and line.startswith(comment):
                continue
            fields = line.split(separator)
            blank = not line.strip() if separator is None else not line
            if blank or (document_marker is not None and fields[0] == document_marker):
                if words:
                    count += 1
                    yield _row(words, kept, f"{path.name}:{count}")
                words = []
                continue
            if len(fields) != len(columns):
                _fail(path, number, line, fields, columns, separator, comment)
            words.append(fields)
    if words:
        count += 1
        yield _row(words, kept, f"{path.name}:{count}")


def load_columns(
    data_files: dict[str, str | list[str]] | str | list[str],
    columns: Sequence[str],
    separator: str | None = "\t",
    comment: str | None = None,
    document_marker: str | None = "-DOCSTART-",
    encoding: str = "utf-8",
) -> datasets.DatasetDict:
    """Load column files as a ``DatasetDict``, cached by the ``datasets`` library.

    The cache key covers each file's resolved path, size and modification time and the
    options below, so an edited file or a changed option is read again.

    Args:
        data_files: split name to one file or a list of files (read in order); a bare file
            or list is the ``train`` split, as in ``datasets.load_dataset``.
        columns: a name for each field of a line, in file order; ``_`` skips a field.
        separator: what splits the fields; ``None`` splits at any run of whitespace.
        comment: lines starting with it are skipped (``None``: no comments).
        document_marker: a line whose first field equals it ends a sentence and is no
            token (``None``: no such lines).
        encoding: the files' text encoding.

    Returns:
        One ``Dataset`` per split with the columns of :func:`column_features`.

    Raises:
        DataError: bad options, a missing or malformed file, or a split with no sentence.
    """
    check_options(columns, separator, comment, document_marker)
    options = {
        "columns": list(columns),
        "separator": separator,
        "comment": comment,
        "document_marker": document_marker,
        "encoding": encoding,
    }
    return load_file_splits(data_files, read_columns, column_features(columns), "column", options)


def check_options(columns: Sequence[str], separator: str | None, comment: str | None, document_marker: str | None) -> None:
    """Refuse options that cannot describe a column file, naming the key and the fix."""
    example = "e.g. `columns: [tokens, ner]` (`_` skips a field)"
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise DataError(f"`columns:` must be a list of names, one per field of a line, {example}; got {columns!r}")
    if not all(isinstance(name, str) and name for name in columns):
        raise DataError(f"`columns:` must hold non-empty names (strings), {example}; got {list(columns)!r}")
    names = [name for name in columns if name != SKIP]
    if not names:
        raise DataError(f"`columns:` names no field to keep (got {list(columns)!r}); {example}")
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise DataError(f"`columns:` names {doubled} more than once; give each field its own name, or `_` to skip it")
    if SENT_ID in names:
        raise DataError(
            f"`columns:` may not name a field '{SENT_ID}': the reader adds that column "
            f"(<file name>:<sentence number>); rename the field or skip it with `_`"
        )
    for key, value in (("separator", separator), ("comment", comment), ("document_marker", document_marker)):
        if value is not None and (not isinstance(value, str) or not value):
            raise DataError(f"`{key}:` must be a non-empty string or null, got {value!r}")
    if separator is not None and separator.strip("\r\n") != separator:
        raise DataError(f"`separator:` {separator!r} holds a line break; use a tab (the default), ' ' or null")


def _row(words: list[list[str]], kept: list[tuple[int, str]], sent_id: str) -> dict:
    return {SENT_ID: sent_id, **{name: [fields[i] for fields in words] for i, name in kept}}


def _fail(
    path: Path,
    number: int,
    line: str,
    fields: list[str],
    columns: Sequence[str],
    separator: str | None,
    comment: str | None,
) -> None:
    shown = line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "..."
    split_by = "whitespace-separated" if separator is None else f"{separator!r}-separated"
    if comment is None and line.startswith("#"):
        fix = "if it is a comment, set `comment: '#'`; else fix the line"
    elif separator is not None and len(fields) == 1 and len(line.split()) == len(columns):
        fix = "the fields look separated by spaces: set `separator: null` (any whitespace)"
    else:
        fix = f"set `columns:` to {len(fields)} names (`_` skips a field), or fix the line"
    raise DataError(
        f"{path}:{number}: line {shown!r} has {len(fields)} {split_by} field(s), expected {len(columns)} "
        f"(`columns: {list(columns)}`); {fix}"
    )
