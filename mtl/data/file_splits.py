"""Read local files of our own formats into a ``DatasetDict``, cached by ``datasets``.

The readers of :mod:`mtl.data.conllu` and :mod:`mtl.data.columns` stream one file's rows;
:func:`load_file_splits` turns them into one ``Dataset`` per split. The cache key covers
each file's resolved path, size and modification time and the reader's options, so an
edited file (or a changed option) is read again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
from datasets.exceptions import DatasetGenerationError

from mtl.data.errors import DataError

#: Reads one file: ``read(path, **options)`` yields one row (a dict) per example.
Reader = Callable[..., Iterator[dict]]


def load_file_splits(
    data_files: dict[str, str | list[str]] | str | list[str],
    read: Reader,
    features: datasets.Features,
    kind: str,
    options: dict[str, Any] | None = None,
) -> datasets.DatasetDict:
    """One ``Dataset`` per split, its rows read from its files in order.

    Args:
        data_files: split name to one file or a list of files (read in order); a bare file
            or list is the ``train`` split, as in ``datasets.load_dataset``.
        read: the reader of one file, a module-level function (its code keys the cache).
        features: the columns of the rows ``read`` yields.
        kind: the files' format in messages, e.g. ``CoNLL-U``.
        options: keyword arguments of ``read`` (they key the cache too).

    Raises:
        DataError: a file is missing, a split holds no row, or ``read`` raised one.
    """
    if isinstance(data_files, (str, os.PathLike, list)):
        data_files = {"train": data_files}
    splits = {}
    for split, files in data_files.items():
        paths = [str(Path(f).resolve()) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
        for p in paths:
            if not os.path.isfile(p):
                raise DataError(f"{kind} file not found: {p} (split '{split}'); check data_files")
        stamps = [(os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]
        try:
            splits[split] = datasets.Dataset.from_generator(
                _read_files,
                features=features,
                gen_kwargs={"paths": paths, "stamps": stamps, "read": read, "options": options or {}},
                split=datasets.NamedSplit(split),
            )
        except DatasetGenerationError as e:  # the library wraps what the generator raised
            cause = e.__cause__ or e.__context__
            if isinstance(cause, DataError):
                raise DataError(str(cause)) from cause
            raise
        except ValueError as e:
            if "corresponds to no data" not in str(e):
                raise
            raise DataError(f"split '{split}' (from {', '.join(paths)}) has no rows; check data_files / splits") from e
    return datasets.DatasetDict(splits)


def _read_files(paths: list[str], stamps: list[tuple[int, int]], read: Reader, options: dict[str, Any]) -> Iterator[dict]:
    """Generator for ``Dataset.from_generator``; ``stamps`` only keys the cache."""
    del stamps
    for path in paths:
        yield from read(path, **options)
