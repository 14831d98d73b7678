"""The inputs of ``mtl predict``: a ``.jsonl``, ``.csv``/``.tsv`` or text file read whole,
refused by name when it cannot be used, split into words, and what the model will not
read said aloud."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import datasets
from lightning.pytorch.utilities import rank_zero_only
from tokenizers import pre_tokenizers

from mtl.data.errors import DataError

log = logging.getLogger(__name__)
warn = rank_zero_only(log.warning)

#: how a text is split into words (see :func:`input_words`)
PredictWords = Literal["whitespace", "punctuation"]
#: whitespace, and every punctuation character a word of its own (as BERT's tokenizer splits)
_PUNCTUATION = pre_tokenizers.BertPreTokenizer()

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


def say_what_inputs_lose(
    encoded: datasets.Dataset, path: Path, columns: list[str], limit: int | None, limited_by: str, tags: bool
) -> None:
    """Blank inputs get no prediction, inputs longer than ``limit`` (set by ``limited_by``)
    are cut, and (when a task ``tags``) words that produce no sub-word token get no tag: each
    is said, naming the lines (their output records carry a ``note``); a file of blank
    inputs only is refused."""
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
    silent = [i for i, (k, present) in enumerate(zip(encoded["words_read"], encoded["word_has_token"])) if 0 in present[:k]]
    if silent and tags:
        warn(
            "data.predict_file %r: %s words that produce no sub-word token (e.g. a lone space); their tags are null "
            "and the output names them in 'no_token'",
            str(path), f"{where(silent)} {'have' if len(silent) > 1 else 'has'}",
        )  # fmt: skip
    cut = [i for i, (n, k) in enumerate(zip(encoded["words"], encoded["words_read"])) if k < n]
    if cut:
        warn(
            "data.predict_file %r: %s longer than the %d sub-word tokens the model reads (%s); predictions come "
            "from the words before the cut, the words after it get null tags, and the output says so in 'truncated'",
            str(path), f"{where(cut)} {'are' if len(cut) > 1 else 'is'}", limit, limited_by,
        )  # fmt: skip


def input_words(value: Any, split: PredictWords = "whitespace") -> list[str]:
    """The words of one input: a list of strings (a pre-split ``.jsonl`` value) as given,
    a text split at whitespace (``whitespace``) or at whitespace and around every
    punctuation character (``punctuation``: ``on Tuesday.`` -> ``on``, ``Tuesday``, ``.``);
    a missing value (``None``) has none."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(word) for word in value]
    if split == "punctuation":
        return [word for word, _ in _PUNCTUATION.pre_tokenize_str(str(value))]
    return str(value).split()


def shown_input(text: Any, text_pair: Any, split: PredictWords, tagged: bool, pair: bool) -> dict[str, Any]:
    """What an output record shows of its input: ``text`` (and ``text_pair`` when the
    inputs are pairs) as read, and ``words``, the words tagged, when a task tags."""
    shown = {"text": text}
    if pair:
        shown["text_pair"] = text_pair
    if tagged:
        shown["words"] = input_words(text, split)
    return shown


def check_word_lists(rows: datasets.Dataset, path: Path, columns: list[str], reads_word_lists: bool) -> None:
    """Lists of words are read as given: every item must be a string, and some task must
    read words (a tagging task, or one trained on word lists); else a :class:`DataError`
    naming the row and column."""
    for column in columns:
        for i, value in enumerate(rows[column]):
            if not isinstance(value, list):
                continue
            where = f"data.predict_file {str(path)!r}, row {i + 1}, column {column!r}"
            if not reads_word_lists:
                raise DataError(
                    f"{where} holds a list of words, but every task of this model reads a text string; "
                    "give the text as one string"
                )
            odd = next((word for word in value if not isinstance(word, str)), None)
            if odd is not None:
                raise DataError(f"{where}: word {odd!r} is not a string; give pre-split words as a list of strings")


def say_attached_punctuation(rows: datasets.Dataset, path: Path, column: str) -> None:
    """Tagging reads every whitespace-split word as one word: said once, naming
    ``data.predict_words``, when words have punctuation attached (``Tuesday.``)."""
    attached = [
        (i, word)
        for i, value in enumerate(rows[column])
        if isinstance(value, str)
        for word in value.split()
        if len(_PUNCTUATION.pre_tokenize_str(word)) > 1
    ]
    if attached:
        inputs = len({i for i, _ in attached})
        examples = list(dict.fromkeys(word for _, word in attached))[:3]
        warn(
            "data.predict_file %r: %d input%s words with punctuation attached (e.g. %s); tagging tasks tag each "
            "whitespace-split word as one word. Set data.predict_words: punctuation to split punctuation off, or "
            "give the words pre-split as a list in a .jsonl column",
            str(path), inputs, " has" if inputs == 1 else "s have", ", ".join(repr(w) for w in examples),
        )  # fmt: skip
