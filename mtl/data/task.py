"""How a user declares one task: where its data is, which columns matter, what it predicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from torch import nn

from mtl.contracts import LabelKind
from mtl.data.corruption import Corruption
from mtl.data.errors import DataError

TaskType = Literal["classification", "multilabel", "regression", "tagging", "denoising", "mlm"]

#: Task types whose labels come from the text itself: no label column, the labels are
#: the tokenizer's vocabulary, and the encoder reads a corrupted copy of the text.
SELF_SUPERVISED = ("denoising", "mlm")

#: A value of ``source:``. Not ``Any``: the config parser reads an ``Any`` string as YAML
#: again, so ``comment: "##"`` would arrive as ``None`` and ``"[1, 2]"`` as a list.
SourceValue = str | int | float | bool | None | list | dict

#: A task's head as the data side sees it: built later by the model from the encoder's
#: ``out_dim`` and the task's labels (a :class:`mtl.heads.TaskHead`, not imported here).
HeadSpec = Callable[[int, list[str]], nn.Module]

#: What each task type puts in ``batch["labels"]``; must equal the head's ``label_type``.
LABEL_TYPE: dict[str, LabelKind] = {
    "classification": LabelKind.CLASS,
    "multilabel": LabelKind.MULTILABEL,
    "regression": LabelKind.FLOAT,
    "tagging": LabelKind.TAGS,
    "denoising": LabelKind.SEQUENCE,
    "mlm": LabelKind.MASKED_TOKENS,
}
#: The task type of each label kind (one type per kind): a head's ``label_type`` names its task's type.
TASK_TYPE: dict[LabelKind, str] = {kind: task_type for task_type, kind in LABEL_TYPE.items()}


@dataclass
class Task:
    """One task of a multi-task run.

    Args:
        name: unique name, used in metric keys (``val/<name>/accuracy``) and to pair the
            task with its head.
        type: ``classification`` (one label per text or text pair), ``multilabel`` (a list
            of labels per text), ``regression`` (one float), or ``tagging`` (one label per
            word; ``text`` is then a column of word lists); or self-supervised from any
            text column: ``denoising`` (reconstruct the text from a corrupted copy) or
            ``mlm`` (predict masked tokens). These need no label column; their labels are
            the tokenizer's vocabulary and ``corruption`` says how the input is corrupted.
            May be left out when ``head`` is given: the ``mtl`` command reads it from the
            head's ``label_type`` (the task type of that :data:`LABEL_TYPE`).
        source: keyword arguments of ``datasets.load_dataset``: a hub name
            (``{"path": "nyu-mll/glue", "name": "sst2"}``) or a local builder
            (``{"path": "csv", "data_files": {...}, "delimiter": "\\t"}``). ``path: conllu``
            reads Universal Dependencies files (see :mod:`mtl.data.conllu`);
            ``path: columns`` reads one-token-per-line files such as CoNLL-2003 NER:
            ``{"path": "columns", "data_files": {...}, "columns": ["tokens", "_", "ner"]}``
            gives list columns ``tokens`` and ``ner`` (``_`` skips a field), with
            ``separator`` (tab; ``null``: any whitespace), ``comment`` (a line prefix to
            skip), ``document_marker`` (``-DOCSTART-``) and ``encoding`` (see
            :mod:`mtl.data.columns`); ``path: synthetic`` generates the demo corpus (see
            :mod:`mtl.data.synthetic`).
        local_source: used instead of ``source`` when the data module is given a
            ``data_dir`` (local copies of a hub dataset); ``{data_dir}`` in its strings
            (and in ``source``'s) is replaced by that folder. Name columns as the hub
            version does (csv ``column_names``), so the other fields fit both.
        text: column holding the input text (or word list, for tagging); a nested field
            is named by its path, ``translation.en`` (so are ``text_pair`` and ``label``).
        text_pair: column holding the second text of a sentence pair, if any.
        label: column holding the target, e.g. ``label`` or ``labels.label``.
        labels: the label names, in index order. Inferred from the training split when
            omitted (integers sorted numerically, strings alphabetically).
        missing_value: a label value that means "no label" (e.g. ``"-"`` or ``"?"``),
            compared with the value as ``labels`` spells it (``"-1"`` matches ``-1`` and
            ``-1.0``). An empty cell, ``null`` and a blank string are missing too, this set or
            not. A row whose label is missing is left out of this task's loss and metrics
            only: it still trains the tasks of its input group that have a label for it
            (tasks over the same rows, see :meth:`mtl.data.MultiTaskDataModule.input_groups`);
            a tagging row may lack the tags of some words only. A missing label is never one
            of the inferred ``labels``. A split without any labelled row is refused.
        splits: role (``train``, ``validation``, ``test``) to split name in the source,
            optionally sliced as ``datasets`` slices: ``{train: "train[:90%]", validation:
            "train[90%:]"}``, ``"train[:1000]"``, ``"train[-500:]"`` (see
            :mod:`mtl.data.split_slice`). A run with no ``validation`` role in any task
            keeps its last weights (no checkpoint is ranked by ``val/average``).
        shuffle_seed: put each source split in this seeded order before slicing it (the
            same order for every role and process, so slices of one split never overlap;
            also a random ``max_train_examples`` subset); ``None`` keeps the file order.
        max_length: sub-word tokens kept per example, special tokens included.
        max_train_examples: use only the first N training examples (quick runs).
        corruption: for ``denoising`` and ``mlm``: masking, deletion and local shuffling
            of the input (see :class:`mtl.data.corruption.Corruption`); defaults apply
            when omitted.
        head: the task's head, declared with the task instead of under ``model.heads``
            (``{"class_path": "mtl.heads.ClassificationHead", "init_args": {...}}``; a short
            class name works too). The ``mtl`` command moves it to ``model.heads.<name>``
            before anything is built; a task has its head in one of the two places. The
            data package does not read it.
    """

    name: str
    type: TaskType | None = None
    source: dict[str, SourceValue] = field(default_factory=dict)
    local_source: dict[str, SourceValue] | None = None
    text: str = "text"
    text_pair: str | None = None
    label: str = "label"
    labels: list[str] | None = None
    missing_value: str | None = None
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "validation"})
    max_length: int = 128
    shuffle_seed: int | None = None
    max_train_examples: int | None = None
    corruption: Corruption | None = None
    head: HeadSpec | None = None

    def __post_init__(self) -> None:
        if self.type is None:
            raise DataError(f"task {self.name!r}: no type; give one of {list(LABEL_TYPE)} (or, in a config, a head)")
        if not self.source:
            raise DataError(f"task {self.name!r}: no source; give the keyword arguments of datasets.load_dataset")
        if self.type in SELF_SUPERVISED:
            if self.corruption is None:
                self.corruption = Corruption()
            self.corruption.check(self.name, self.type)
            if self.type == "denoising" and self.text_pair is not None:
                raise DataError(
                    f"task {self.name!r}: a denoising task reconstructs one text; declare one task per "
                    f"column instead of text_pair={self.text_pair!r}"
                )
        elif self.corruption is not None:
            raise DataError(f"task {self.name!r}: corruption applies to denoising and mlm tasks only, not to type {self.type!r}")

    @property
    def label_type(self) -> LabelKind:
        return LABEL_TYPE[self.type]

    @property
    def self_supervised(self) -> bool:
        return self.type in SELF_SUPERVISED


def resolve_source(task: Task, data_dir: str | None) -> Task:
    """The task with the source to read: ``local_source`` when ``data_dir`` is set and the
    task has one, else ``source``; ``{data_dir}`` placeholders filled in."""

    chosen = task.local_source if data_dir is not None and task.local_source is not None else task.source

    def fill(value: Any) -> Any:
        if isinstance(value, str) and "{data_dir}" in value:
            if data_dir is None:
                raise DataError(
                    f"task {task.name!r}: source {value!r} uses {{data_dir}}; set data.data_dir (e.g. ../shared/data)"
                )
            return value.replace("{data_dir}", data_dir)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return replace(task, source=fill(chosen), local_source=None)
