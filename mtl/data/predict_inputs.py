"""The inputs of ``mtl predict``: a ``.jsonl``, ``.csv``/``.tsv`` or text file read whole,
refused by name when it cannot be used, and what the model will not read said aloud."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
from lightning.pytorch.utilities import rank_zero_only

from mtl.data.errors import DataError

log = logging.getLogger(__name__)
warn = rank_zero_only(log.warning)

#: what each kind of file must hold, for the messages
EXPECTED = {"json": "one JSON object per line", "csv": "a header row, then one input per row", "text": "one input per line"}


def read_predict_inputs(path: Path, columns: list[str]) -> datasets.Dataset:
    """The rows of ``path`` (by suffix: ``.jsonl``/``.json``, ``.csv``/``.tsv``, else one
    input per line); a :class:`DataError` naming the file when it is missing, empty,
    unreadable, or lacks one of ``columns``."""
    if not path.is_file():
        raise DataError(f"data.predict_file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    kind = "json" if suffix in (".jsonl", ".json") else "csv" if suffix in (".csv", ".tsv") else "text"
    expected = EXPECTED[kind]
    if path.stat().st_size == 0:
        raise DataError(f"data.predict_file {str(path)!r} is empty; it needs {expected}")
    options = {"delimiter": "\t" if suffix == ".tsv" else ","} if kind == "csv" else {}
    try:
        rows = datasets.load_dataset(kind, data_files=str(path), split="train", **options)
    except Exception as error:  # the loaders' errors name neither the file nor the cause
        cause = error.__cause__ or error
        raise DataError(
            f"data.predict_file {str(path)!r} cannot be read as {kind} ({type(cause).__name__}: {cause}); it needs {expected}"
        ) from error
    if len(rows) == 0:
        raise DataError(f"data.predict_file {str(path)!r} holds no inputs; it needs {expected}")
    for column in columns:
        if column not in rows.column_names:
            raise DataError(
                f"data.predict_file {str(path)!r} has no column {column!r}; its columns are {rows.column_names} "
                f"(set data.predict_text / data.predict_text_pair)"
            )
    return rows


def say_what_inputs_lose(encoded: datasets.Dataset, path: Path, columns: list[str], limit: int | None, limited_by: str) -> None:
    """Blank inputs get no prediction, inputs longer than ``limit`` (set by ``limited_by``)
    are cut: both are said, naming the lines (their output records carry a ``note``);
    a file of blank inputs only is refused."""
    text_file = path.suffix.lower() not in (".jsonl", ".json", ".csv", ".tsv")
    unit = "line" if text_file else "row"

    def where(rows: list[int]) -> str:
        shown = ", ".join(str(i + 1) for i in rows[:20]) + (f" and {len(rows) - 20} more" if len(rows) > 20 else "")
        return f"{unit}{'s' if len(rows) > 1 else ''} {shown}"

    blank = [i for i, b in enumerate(encoded["blank"]) if b]
    if len(blank) == len(encoded):
        raise DataError(f"data.predict_file {str(path)!r} has no text in column(s) {columns} of any {unit}")
    if blank:
        warn(
            "data.predict_file %r: %s blank (column(s) %s); they get no prediction (null values and a note)",
            str(path), f"{where(blank)} {'are' if len(blank) > 1 else 'is'}", columns,
        )  # fmt: skip
    cut = [i for i, (n, k) in enumerate(zip(encoded["words"], encoded["words_read"])) if k < n]
    if cut:
        warn(
            "data.predict_file %r: %s longer than the %d sub-word tokens the model reads (%s); predictions come "
            "from the words before the cut, the words after it get null tags, and the output says so in 'truncated'",
            str(path), f"{where(cut)} {'are' if len(cut) > 1 else 'is'}", limit, limited_by,
        )  # fmt: skip
