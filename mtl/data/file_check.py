"""What is wrong with a local data file, found after its loader failed.

``datasets.load_dataset`` reports a bad file without naming it ("Expected 2 fields in
line 3, saw 3", "its type in this file is null", a ``UnicodeDecodeError`` at a byte
position). :func:`find_problem` reads the declared files itself and says which file, which
line, and what to do, in the style of :mod:`mtl.data.conllu`:
``data/train.csv:3 (split 'train'): 3 fields where the header has 2: ...; <fix>``.
"""

from __future__ import annotations

import codecs
import csv
import glob
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SHOWN_CHARS = 80

#: The builder ``datasets`` picks for a file in a data folder, by extension.
_BY_EXTENSION = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text", ".conllu": "conllu"}


def find_problem(source: dict[str, Any], files: dict[str, list[str]], splits: list[str] | None = None) -> str | None:
    """The first problem of the source's local files, or None when none is found.

    Args:
        source: the task's ``source`` (``path`` and the builder's options: ``encoding``,
            ``delimiter``/``sep``, ``quoting``, ``quotechar``, ``header``, ``column_names``).
        files: split name to the files as declared (relative to the working directory, or
            to ``path`` when it is a folder).
        splits: only these splits' files (all when None).

    Returns:
        ``"<file>[:<line>] (split '<split>'): <what>; <fix>"``. Broken files (bad encoding,
        bad JSON, a CSV row with too many fields) come before files that are only empty,
        or have a header but no rows.
    """
    found = list(_files(source, files, splits))
    for check in (_broken, _empty):
        for split, given, full, kind in found:
            problem = check(source, kind, given, full)
            if problem:
                where, _, what = problem.partition("\0")
                return f"{where} (split '{split}'): {what}"
    return None


def _files(source: dict[str, Any], files: dict[str, list[str]], splits: list[str] | None) -> Iterator[tuple]:
    """(split, file as declared, file on disk, builder) for each existing local file."""
    path = str(source.get("path", ""))
    folder = os.path.isdir(path)
    base = path if folder else os.getcwd()
    for split, names in files.items():
        if splits is not None and split not in splits:
            continue
        for name in names:
            name = str(name)
            if "://" in name:
                continue
            full = os.path.join(base, os.path.expanduser(name))
            matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
            for match in matches:
                kind = _BY_EXTENSION.get(Path(match).suffix.lower()) if folder else path
                if kind in ("csv", "json", "text", "conllu", "columns") and os.path.isfile(match):
                    shown = name if match == full else os.path.relpath(match, base)
                    yield split, shown, match, kind


def _broken(source: dict[str, Any], kind: str, name: str, full: str) -> str | None:
    problem = _encoding_problem(source, kind, name, full)
    if problem or kind not in ("csv", "json"):
        return problem
    if kind == "csv":
        return _csv_problem(source, name, full)
    return _json_problem(name, Path(full).read_text(encoding=_encoding(source), errors="replace"))


def _empty(source: dict[str, Any], kind: str, name: str, full: str) -> str | None:
    text = Path(full).read_text(encoding=_encoding(source), errors="replace")
    if not text.strip():
        return f"{name}\0the file is empty; fill it or remove it from `source.data_files`"
    if kind == "csv" and _has_header(source) and not any(_rows(source, full, skip_header=True)):
        return f"{name}\0the file has a header but no rows; add rows or remove it from `source.data_files`"
    if kind == "json" and text.strip() in ("[]", "{}"):
        return f"{name}\0the file holds no rows; add rows or remove it from `source.data_files`"
    return None


# -- encoding -----------------------------------------------------------------------------
def _encoding(source: dict[str, Any]) -> str:
    return str(source.get("encoding") or "utf-8")


def _encoding_problem(source: dict[str, Any], kind: str, name: str, full: str) -> str | None:
    encoding = _encoding(source)
    if source.get("encoding_errors") not in (None, "strict"):
        return None
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        return f"{name}\0`encoding: {encoding}` is not an encoding Python knows; use e.g. utf-8 or latin-1"
    number = 0
    with open(full, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as error:
                byte = error.object[error.start : error.start + 1].hex()
                what = f"not valid {encoding} (byte 0x{byte} at column {error.start + 1})"
                return f"{name}:{number}\0{what}; {_fix(kind, name, encoding)}"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"{name}:{number}\0the file ends inside a {encoding} character; {_fix(kind, name, encoding)}"
    return None


def _fix(kind: str, name: str, encoding: str) -> str:
    recode = f"re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8 {name} > {Path(name).stem}.utf8{Path(name).suffix})"
    if kind == "conllu":
        return recode
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
    option = "`encoding: latin-1`" if utf8 else "the right `encoding:`"
    return f"{recode}, or give its encoding in the task's source: {option}"


# -- csv ----------------------------------------------------------------------------------
def _delimiter(source: dict[str, Any], full: str) -> str:
    if source.get("delimiter"):
        return str(source["delimiter"])
    if source.get("sep"):
        return str(source["sep"])
    return "\t" if full.lower().endswith(".tsv") and source.get("path") not in ("csv",) else ","


def _has_header(source: dict[str, Any]) -> bool:
    header = source.get("header", "infer")
    if header is None:
        return False
    if header == "infer":
        return not (source.get("column_names") or source.get("names"))
    return True


def _rows(source: dict[str, Any], full: str, skip_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each non-blank CSV row, with the ``datasets`` csv
    options that change how a file splits into rows and fields."""
    quoting = source.get("quoting", csv.QUOTE_MINIMAL)
    options: dict[str, Any] = {"delimiter": _delimiter(source, full), "quoting": int(quoting)}
    if source.get("quotechar") and int(quoting) != csv.QUOTE_NONE:
        options["quotechar"] = str(source["quotechar"])
    if source.get("escapechar"):
        options["escapechar"] = str(source["escapechar"])
    comment = source.get("comment")
    skip = source.get("skiprows") if isinstance(source.get("skiprows"), int) else 0
    header_row = source.get("header", "infer")
    header_row = header_row if isinstance(header_row, int) and not isinstance(header_row, bool) else 0
    with open(full, encoding=_encoding(source), errors="replace", newline="") as f:
        reader = csv.reader(f, **options)
        start, seen = 1, 0
        try:
            for fields in reader:
                line, start = start, reader.line_num + 1
                if line <= skip or not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if comment and fields[0].startswith(str(comment)):
                    continue
                seen += 1
                if skip_header and _has_header(source) and seen <= header_row + 1:
                    continue
                yield line, fields
        except csv.Error:
            return


def _csv_problem(source: dict[str, Any], name: str, full: str) -> str | None:
    names = source.get("column_names") or source.get("names")
    rows = _rows(source, full)
    expected = len(names) if names else None
    if _has_header(source):
        header = next(rows, None)
        if header is None:
            return None
        if expected is None:
            expected = len(header[1])
    if expected is None:
        return None
    delimiter = _delimiter(source, full)
    for line, fields in rows:
        if len(fields) > expected:
            shown = delimiter.join(fields)
            shown = shown if len(shown) <= _SHOWN_CHARS else shown[:_SHOWN_CHARS] + "..."
            against = "the header has" if not names else "`column_names` has"
            return (
                f"{name}:{line}\0{len(fields)} fields where {against} {expected}: {shown!r}; "
                f"quote a field that contains the delimiter {delimiter!r}, or fix the row"
            )
    return None


# -- json ---------------------------------------------------------------------------------
def _json_problem(name: str, text: str) -> str | None:
    if not text.strip():
        return None
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as whole:
        lines = text.splitlines()
        first = next((line for line in lines if line.strip()), "")
        if not _parses(first):  # one JSON document, broken somewhere
            return f"{name}:{whole.lineno}\0not valid JSON at column {whole.colno} ({whole.msg}); fix the file"
    for number, line in enumerate(lines, start=1):  # JSON lines: one object per line
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            return f"{name}:{number}\0not a valid JSON line at column {error.colno} ({error.msg}); write one JSON object per line"
        if not isinstance(row, dict):
            return f'{name}:{number}\0a JSON line must be an object like {{"text": ...}}, found {type(row).__name__}'
    return None


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        return False
