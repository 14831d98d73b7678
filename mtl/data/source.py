"""Load a task's splits from its declared source and check them against the declaration.

Every check fails with a :class:`~mtl.data.errors.DataError` naming the task, the split
and file, and the declaration field to change. Rows whose text is missing or blank are
dropped with a logged warning. Rows whose label is missing (:func:`is_missing_label`) are
kept, with a logged count: they train and score the other tasks of their input group, and
the encoding marks their label as missing for this one; a split with no labelled row is
an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import inspect
import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import datasets
from datasets.exceptions import DatasetGenerationError

from mtl.data.columns import load_columns
from mtl.data.conllu import load_conllu
from mtl.data.errors import DataError
from mtl.data.file_check import find_problem
from mtl.data.split_slice import SplitSlice, parse_split, seeded_order
from mtl.data.synthetic import load_synthetic
from mtl.data.task import Task

logger = logging.getLogger(__name__)

#: The roles a task's ``splits`` may name.
ROLES = ("train", "validation", "test")

#: ``source.path`` values whose ``data_files`` are local files (relative to the working directory).
LOCAL_BUILDERS = ("csv", "json", "parquet", "text", "arrow", "pandas", "xml", "conllu", "columns")

#: ``source.path`` values read by our own loaders, called with the rest of the source.
OWN_LOADERS: dict[str, Callable[..., datasets.DatasetDict]] = {
    "conllu": load_conllu,
    "columns": load_columns,
    "synthetic": load_synthetic,
}

_SHOWN_VALUES = 20
#: How ``datasets`` reports a split with no rows.
_EMPTY_SPLIT = re.compile(r'Instruction "([^"]+)" corresponds to no data')


def load_task_splits(task: Task, roles: Iterable[str] | None = None) -> datasets.DatasetDict:
    """Load, select and check the splits of one task.

    Args:
        task: the declaration; ``task.source`` goes to ``datasets.load_dataset``, or, when
            its ``path`` is ``conllu``, ``columns`` or ``synthetic``, without ``path`` to
            :func:`mtl.data.conllu.load_conllu`, :func:`mtl.data.columns.load_columns` or
            :func:`mtl.data.synthetic.load_synthetic` (:data:`OWN_LOADERS`).
        roles: only these of its roles (``None``: all), reading only their files: a
            trained run is tested from its test file alone, its training files gone.

    Returns:
        One ``Dataset`` per role of ``task.splits`` (``train``, ``validation``, ``test``),
        the train split cut to ``task.max_train_examples`` rows when set, and rows with
        empty text dropped.

    Raises:
        DataError: a missing file, split or column, an empty split, a bad label value, or
            any failure of the loader (kept as ``__cause__``); for a bad local file, the
            file, the line and the fix (see :mod:`mtl.data.file_check`).
    """
    if roles is not None:
        task = only_roles(task, roles)
    try:
        return _load_task_splits(task)
    except UnicodeDecodeError as e:  # the json builder stores undecodable text; reading it fails
        raise DataError(
            _file_problem(task)
            or f"task '{task.name}': {_describe(task)} holds text that is not valid {e.encoding} ({e.reason}); "
            "give the data's encoding in `source:` (e.g. `encoding: latin-1`) or re-encode it as UTF-8"
        ) from e


def _load_task_splits(task: Task) -> datasets.DatasetDict:
    _check_declaration(task)
    _check_files_exist(task)
    parts = {role: parse_split(spec, f"task '{task.name}': `splits: {role}:`") for role, spec in task.splits.items()}
    loaded = _load(task)
    result = {}
    for role, part in parts.items():
        split = part.name
        if split not in loaded:
            raise DataError(
                f"task '{task.name}': split '{split}' (for {role}) not found in {_describe(task)}; "
                f"available splits: {sorted(loaded)}; change `splits:` or data_files"
            )
        ds = loaded[split]
        origin = _describe(task, split)
        if len(ds) == 0:
            raise DataError(
                _file_problem(task, [split])
                or f"task '{task.name}': split '{split}' (from {origin}) has no rows; check data_files / splits"
            )
        ds = _part(task, role, part, ds)
        ds = _with_fields(task, ds)
        _check_columns(task, split, ds)
        if role == "train" and task.max_train_examples is not None:
            ds = ds.select(range(min(task.max_train_examples, len(ds))))
        keep = _rows_with_text(task, ds)
        if not task.self_supervised:
            _check_labels(task, split, ds, keep)
        if len(keep) < len(ds):
            text_columns = [c for c in (task.text, task.text_pair) if c]
            logger.warning(
                "task '%s': dropped %d of %d rows of split '%s' (from %s) with empty or missing %s",
                task.name, len(ds) - len(keep), len(ds), split, origin, " / ".join(map(repr, text_columns)),
            )  # fmt: skip
            if not keep:
                raise DataError(
                    f"task '{task.name}': split '{split}' (from {origin}) has no rows with text in "
                    f"column '{task.text}'; check `text:` and the data"
                )
            ds = ds.select(keep)
        result[role] = ds
    if not task.self_supervised:
        _warn_unseen_labels(task, result)
    return datasets.DatasetDict(result)


def only_roles(task: Task, roles: Iterable[str]) -> Task:
    """``task`` reading only ``roles`` of its splits: its other roles dropped, and a
    ``data_files`` mapping cut to the splits those roles read (slices keep their split)."""
    wanted = set(roles)
    splits = {role: spec for role, spec in task.splits.items() if role in wanted}
    read = {parse_split(spec, f"task '{task.name}': `splits: {role}:`").name for role, spec in splits.items()}
    source = dict(task.source)
    files = source.get("data_files")
    if isinstance(files, dict):
        source["data_files"] = {split: paths for split, paths in files.items() if str(split) in read}
    return dataclasses.replace(task, splits=splits, source=source)


def _part(task: Task, role: str, part: SplitSlice, ds: datasets.Dataset) -> datasets.Dataset:
    """The rows of ``ds`` that ``role`` reads: in the task's seeded order when it has a
    ``shuffle_seed``, then cut to the slice."""
    if task.shuffle_seed is not None:
        ds = ds.select(seeded_order(len(ds), task.shuffle_seed))
    if not part.sliced:
        return ds
    rows = part.rows(len(ds))
    if len(rows) == 0:
        raise DataError(
            f"task '{task.name}': `splits: {role}: {task.splits[role]}` selects no row of split '{part.name}' "
            f"({len(ds)} rows); widen the slice"
        )
    return ds.select(rows)


def _with_fields(task: Task, ds: datasets.Dataset) -> datasets.Dataset:
    """``ds`` with nested fields as columns (``labels.label``) when a column option names one."""
    named = [c for c in (task.text, task.text_pair, task.label) if c]
    if all(c in ds.column_names or "." not in c for c in named):
        return ds
    return ds.flatten()


def infer_labels(task: Task, train_split: datasets.Dataset) -> list[str]:
    """The label names of a task, read from its training split.

    Args:
        task: the declaration (its ``type`` and ``label`` column matter).
        train_split: the training rows.

    Returns:
        The ``ClassLabel`` names when the column has them; otherwise the distinct values as
        strings, sorted numerically when they all are integers and alphabetically if not
        (the union over rows for ``multilabel``, over words for ``tagging``). ``[]`` for
        ``regression``.
    """
    if task.type == "regression":
        return []
    names = class_names(train_split.features.get(task.label))
    if names is not None:
        return list(names)
    return _sorted_labels({label_to_str(v) for v in _flat_values(task, _column(train_split, task.label))})


def is_missing_label(value: Any, missing_value: str | None = None) -> bool:
    """Whether a label value (a row's, or one word's tag) means "no label": ``None``, NaN
    (a CSV's empty cell in a column of numbers), a blank string, or ``missing_value`` (the
    task's, compared as :func:`label_to_str` spells the value)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return missing_value is not None and not isinstance(value, (list, tuple)) and label_to_str(value) == missing_value


def label_to_str(value: Any, names: list[str] | None = None) -> str:
    """A label value as the string that ``labels`` lists.

    Args:
        value: one class (or tag) value as stored in the dataset.
        names: the column's ``ClassLabel`` names, if it has them.

    Returns:
        The class name for a ``ClassLabel`` index; ``"1"`` for ``1`` and for ``1.0`` (a
        CSV label column with a gap is read as floats); ``str(value)`` otherwise.
    """
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sorted_labels(values: Iterable[str]) -> list[str]:
    values = list(values)
    try:
        return sorted(values, key=int)
    except ValueError:
        return sorted(values)


def _check_declaration(task: Task) -> None:
    unknown = [role for role in task.splits if role not in ROLES]
    if unknown:
        raise DataError(f"task '{task.name}': unknown split role(s) {unknown} in `splits:`; use keys from {list(ROLES)}")
    if not task.splits:
        raise DataError(f"task '{task.name}': `splits:` is empty; map at least `train` to a split of the source")
    if task.max_train_examples is not None and task.max_train_examples < 1:
        raise DataError(f"task '{task.name}': max_train_examples must be >= 1, got {task.max_train_examples}")
    if "path" not in task.source:
        raise DataError(f"task '{task.name}': `source:` needs a `path` (a dataset name, 'csv', 'json', 'conllu', ...)")


def _data_files(task: Task) -> dict[str, list[str]]:
    """``data_files`` of the source as split -> list of files (``{}`` when absent)."""
    files = task.source.get("data_files")
    if files is None:
        return {}
    if isinstance(files, (str, os.PathLike)):
        files = {"train": [files]}
    elif isinstance(files, (list, tuple)):
        files = {"train": list(files)}
    return {str(k): [v] if isinstance(v, (str, os.PathLike)) else list(v) for k, v in files.items()}


def _check_files_exist(task: Task) -> None:
    """Local ``data_files`` must exist (hub datasets name files inside their repository)."""
    path = str(task.source["path"])
    if os.path.isdir(path):
        base = path
    elif path in LOCAL_BUILDERS:
        base = os.getcwd()
    else:
        return
    for split, files in _data_files(task).items():
        for f in files:
            f = str(f)
            if "://" in f:
                continue
            full = os.path.join(base, os.path.expanduser(f))
            found = glob.glob(full) if glob.has_magic(full) else os.path.exists(full)
            if not found:
                raise DataError(
                    f"task '{task.name}': data file for split '{split}' not found: {f} "
                    f"(resolved to {os.path.abspath(full)}); fix `source.data_files`"
                )


def _load(task: Task) -> datasets.DatasetDict:
    source = dict(task.source)
    try:
        loader = OWN_LOADERS.get(source["path"])
        if loader is not None:
            path = source.pop("path")
            _check_keys(loader, path, source)
            loaded = loader(**source)
        else:
            loaded = datasets.load_dataset(**source)
    except DataError as e:
        raise DataError(f"task '{task.name}': {e}") from e
    except Exception as e:
        empty = _EMPTY_SPLIT.search(str(e))
        if empty:
            split = empty.group(1)
            raise DataError(
                _file_problem(task, [split])
                or f"task '{task.name}': split '{split}' (from {_describe(task, split)}) has no rows; check data_files / splits"
            ) from e
        problem = _file_problem(task)
        if problem:
            raise DataError(problem) from e
        cause = _root_cause(e)
        raise DataError(
            f"task '{task.name}': could not load {_describe(task)} with source {task.source!r}: "
            f"{type(cause).__name__}: {cause}; check `source:` (path, data_files, delimiter, quoting, "
            f"column_names) and that each column has one type in every file"
        ) from e
    if not isinstance(loaded, datasets.DatasetDict):
        raise DataError(
            f"task '{task.name}': source {task.source!r} gave a {type(loaded).__name__}, not a DatasetDict; "
            f"remove `split` / `streaming` from `source:` and select (and slice) splits with `splits:`, "
            f"e.g. `splits: {{train: 'train[:90%]', validation: 'train[90%:]'}}` with a `shuffle_seed:`"
        )
    return loaded


def _check_keys(loader: Callable[..., Any], path: str, source: dict[str, Any]) -> None:
    """The source's keys must be the loader's arguments, its required ones all given."""
    parameters = inspect.signature(loader).parameters
    for key in source:
        if key not in parameters:
            close = difflib.get_close_matches(key, parameters, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            if key == "split":
                hint = "select and slice splits with `splits:` (e.g. validation: 'train[90%:]'); "
            raise DataError(
                f"unknown key '{key}' in `source:` for path '{path}'; {hint}"
                f"the keys it takes: {sorted(parameters)}; rename or remove '{key}'"
            )
    missing = [name for name, p in parameters.items() if p.default is p.empty and name not in source]
    if missing:
        raise DataError(
            f"`source:` for path '{path}' needs {', '.join(f'`{m}`' for m in missing)}; see {loader.__module__}.{loader.__name__}"
        )


def _file_problem(task: Task, splits: list[str] | None = None) -> str | None:
    """What is wrong with one of the task's local files, named with the task (or None)."""
    try:
        problem = find_problem(task.source, _data_files(task), splits)
    except OSError:
        return None
    return f"task '{task.name}': {problem}" if problem else None


def _root_cause(error: BaseException) -> BaseException:
    """The parser's own error inside the library's ``DatasetGenerationError`` wrapper."""
    while isinstance(error, DatasetGenerationError) and (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__
    return error


def _describe(task: Task, split: str | None = None) -> str:
    """Where a split comes from: its files, or the dataset name."""
    files = _data_files(task)
    if split is not None and split in files:
        return ", ".join(map(str, files[split]))
    name = task.source.get("name")
    text = f"source '{task.source['path']}'" + (f" ({name})" if name else "")
    if files:
        text += f" with data_files for {sorted(files)}"
    return text


def _check_columns(task: Task, split: str, ds: datasets.Dataset) -> None:
    for field_name in ("text", "text_pair") if task.self_supervised else ("text", "text_pair", "label"):
        column = getattr(task, field_name)
        if column is not None and column not in ds.column_names:
            fields = ds.flatten().column_names  # nested fields as a.b
            nested = " (nested fields as a.b)" if any("." in f for f in fields) else ""
            raise DataError(
                f"task '{task.name}': column '{column}' not found in split '{split}' (from {_describe(task, split)}); "
                f"available columns{nested}: {fields}; set `{field_name}:` to one of them"
            )


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


def _rows_with_text(task: Task, ds: datasets.Dataset) -> list[int]:
    """Indices of the rows whose text (and text pair) is present and not blank."""
    blank = [_is_blank(v) for v in _column(ds, task.text)]
    if task.text_pair:
        blank = [a or _is_blank(b) for a, b in zip(blank, _column(ds, task.text_pair))]
    return [i for i, b in enumerate(blank) if not b]


def class_names(feature: Any) -> list[str] | None:
    """ClassLabel names of a column, or of the items of a list column."""
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        return inner.names
    if isinstance(feature, datasets.ClassLabel):
        return feature.names
    return None


def _column(ds: datasets.Dataset, name: str) -> list[Any]:
    """One column as a Python list (``ds[name]`` is a lazy column in ``datasets`` 4+)."""
    return ds[name][:]


def _flat_values(task: Task, column: Iterable[Any]) -> Iterable[Any]:
    """The label values of a column, missing ones left out (one per row, or per item of a
    ``multilabel`` or ``tagging`` row)."""
    rows = (row for row in column if not is_missing_label(row, task.missing_value))
    if task.type in ("multilabel", "tagging"):
        rows = (v for row in rows for v in row)
    return (v for v in rows if not is_missing_label(v, task.missing_value))


def _check_labels(task: Task, split: str, ds: datasets.Dataset, keep: list[int]) -> None:
    """Label values of the kept rows: of the declared type and in ``labels``, or missing
    (:func:`is_missing_label`; counted in a logged warning). At least one row is labelled."""
    origin = _describe(task, split)
    where = f"task '{task.name}': column '{task.label}' in split '{split}' (from {origin})"
    names = class_names(ds.features.get(task.label))
    allowed = set(task.labels) if task.labels is not None else None
    values = _column(ds, task.label)
    texts = _column(ds, task.text) if task.type == "tagging" else None
    missing = 0
    for i in keep:
        value = values[i]
        if is_missing_label(value, task.missing_value):
            missing += 1
            continue
        if task.type == "regression":
            _check_float(where, i, value)
            continue
        items = value if task.type in ("multilabel", "tagging") else [value]
        if not isinstance(items, (list, tuple)):
            raise DataError(f"{where} has {value!r} at row {i}, expected a list for a {task.type} task; check `label:`")
        if texts is not None and len(items) != len(texts[i]):
            raise DataError(
                f"{where} has {len(items)} tags at row {i} but column '{task.text}' has {len(texts[i])} words; "
                f"fix the data or `text:` / `label:`"
            )
        for item in items:
            if is_missing_label(item, task.missing_value):
                if task.type == "tagging":  # that word's tag only
                    continue
                raise DataError(f"{where} has a missing value inside row {i}; fix the data or leave the whole label out")
            shown = label_to_str(item, names)
            if allowed is not None and shown not in allowed:
                raise DataError(
                    f"{where} has value {shown!r} not in labels {_short(task.labels)}; add it to labels: or fix the data"
                )
    if keep and missing == len(keep):  # (no rows with text: said below)
        marker = f", {task.missing_value!r}" if task.missing_value is not None else ""
        raise DataError(
            f"{where} has no labelled row: all {len(keep)} rows are missing (empty, null{marker}); "
            f"check `label:` and `missing_value:`, or give the task a split with labels"
        )
    if missing:
        logger.warning(
            "task '%s': %d of %d rows of split '%s' (from %s) have no label in column '%s'; they are left out of "
            "this task's loss and metrics (%d rows labelled)",
            task.name, missing, len(keep), split, origin, task.label, len(keep) - missing,
        )  # fmt: skip


def _check_float(where: str, row: int, value: Any) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where} has {value!r} at row {row}, not a number; a regression label must be a float") from None
    if not math.isfinite(number):
        raise DataError(f"{where} has {value!r} at row {row}; a regression label must be finite")


def _warn_unseen_labels(task: Task, splits: dict[str, datasets.Dataset]) -> None:
    """Without declared labels, warn about evaluation labels never seen in training."""
    if task.labels is not None or task.type == "regression" or "train" not in splits:
        return
    known = set(infer_labels(task, splits["train"]))
    for role, ds in splits.items():
        if role == "train":
            continue
        names = class_names(ds.features.get(task.label))
        seen = {label_to_str(v, names) for v in _flat_values(task, _column(ds, task.label))}
        unseen = sorted(seen - known)
        if unseen:
            split = task.splits[role]
            logger.warning(
                "task '%s': column '%s' in split '%s' (from %s) has %d label value(s) never seen in training: %s; "
                "a model cannot learn them from this training split",
                task.name, task.label, split, _describe(task, split), len(unseen), _short(unseen),
            )  # fmt: skip


def _short(values: list[str]) -> str:
    if len(values) <= _SHOWN_VALUES:
        return repr(list(values))
    return repr(list(values[:_SHOWN_VALUES]))[:-1] + f", ... ({len(values)} in all)]"
