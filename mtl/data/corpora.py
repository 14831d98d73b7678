"""Ready task declarations for the real corpora the experiments use.

Each function takes ``data_dir``, the folder holding ``glue/``, ``ud_english_ewt/`` and
``nsmc/`` (``../shared/data`` from the project root), and returns a complete
:class:`~mtl.data.task.Task`. The ``source`` options are the ones that read the original
files exactly (checked against the official row counts by ``tests/data/test_corpora.py``);
experiment YAMLs mirror them.
"""

from __future__ import annotations

import os
from typing import Any

from mtl.data.task import Task

#: Tab-separated, quote characters read as text (``csv.QUOTE_NONE``): the GLUE and NSMC
#: files hold unbalanced ``"`` inside fields.
TSV: dict[str, Any] = {"path": "csv", "delimiter": "\t", "quoting": 3}

#: GLUE task name -> (folder, extra csv options, task fields).
_GLUE: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "sst2": ("SST-2", {}, {"type": "classification", "text": "sentence", "labels": ["0", "1"]}),
    # CoLA has no header line; naming the columns makes pandas read the first line as data.
    "cola": (
        "CoLA",
        {"column_names": ["source", "label", "original_mark", "sentence"]},
        {"type": "classification", "text": "sentence", "labels": ["0", "1"]},
    ),
    # MRPC starts with a UTF-8 byte order mark, which would otherwise prefix "Quality".
    "mrpc": (
        "MRPC",
        {"encoding": "utf-8-sig"},
        {
            "type": "classification",
            "text": "#1 String",
            "text_pair": "#2 String",
            "label": "Quality",
            "labels": ["0", "1"],
        },
    ),
    "stsb": ("STS-B", {}, {"type": "regression", "text": "sentence1", "text_pair": "sentence2", "label": "score"}),
    "rte": (
        "RTE",
        {},
        {
            "type": "classification",
            "text": "sentence1",
            "text_pair": "sentence2",
            "labels": ["entailment", "not_entailment"],
        },
    ),
}

GLUE_TASKS: tuple[str, ...] = tuple(_GLUE)

#: The annotation columns of :mod:`mtl.data.conllu` a tagging task may predict.
UD_COLUMNS: tuple[str, ...] = ("upos", "xpos", "feats", "deprel")


def glue_task(name: str, data_dir: str | os.PathLike[str]) -> Task:
    """A GLUE task read from the original TSV files (train and dev; GLUE tests are unlabelled).

    Args:
        name: one of ``sst2``, ``cola``, ``mrpc``, ``stsb``, ``rte``; also the task name.
        data_dir: the folder holding ``glue/<TASK>/{train,dev}.tsv``.

    Returns:
        The task, with splits ``train`` -> ``train.tsv`` and ``validation`` -> ``dev.tsv``.
    """
    if name not in _GLUE:
        raise ValueError(f"unknown GLUE task {name!r}; choose one of {list(_GLUE)}")
    folder, options, fields = _GLUE[name]
    root = os.path.join(os.fspath(data_dir), "glue", folder)
    data_files = {"train": os.path.join(root, "train.tsv"), "validation": os.path.join(root, "dev.tsv")}
    return Task(name=name, source={**TSV, **options, "data_files": data_files}, **fields)


def ud_ewt_task(name: str, column: str, data_dir: str | os.PathLike[str]) -> Task:
    """A word-tagging task over UD English-EWT (train, dev, test), labels inferred from train.

    Args:
        name: the task name, e.g. ``upos``.
        column: the tag column: ``upos``, ``xpos``, ``feats`` (the whole FEATS string) or
            ``deprel``.
        data_dir: the folder holding ``ud_english_ewt/en_ewt-ud-{train,dev,test}.conllu``.

    Returns:
        The task, tagging the ``tokens`` column.
    """
    if column not in UD_COLUMNS:
        raise ValueError(f"unknown UD column {column!r}; choose one of {list(UD_COLUMNS)}")
    root = os.path.join(os.fspath(data_dir), "ud_english_ewt")
    files = {"train": "train", "validation": "dev", "test": "test"}
    data_files = {role: os.path.join(root, f"en_ewt-ud-{part}.conllu") for role, part in files.items()}
    return Task(
        name=name,
        type="tagging",
        source={"path": "conllu", "data_files": data_files},
        text="tokens",
        label=column,
        splits={role: role for role in files},
    )


def nsmc_task(data_dir: str | os.PathLike[str]) -> Task:
    """Naver Sentiment Movie Corpus (Korean, binary sentiment).

    NSMC has no dev set, so its test file serves as the ``validation`` split. A few
    reviews are empty; :func:`mtl.data.source.load_task_splits` drops them with a warning.

    Args:
        data_dir: the folder holding ``nsmc/ratings_{train,test}.txt``.

    Returns:
        The task ``nsmc``: text ``document``, labels ``0`` (negative) and ``1`` (positive).
    """
    root = os.path.join(os.fspath(data_dir), "nsmc")
    data_files = {"train": os.path.join(root, "ratings_train.txt"), "test": os.path.join(root, "ratings_test.txt")}
    return Task(
        name="nsmc",
        type="classification",
        source={**TSV, "data_files": data_files},
        text="document",
        label="label",
        labels=["0", "1"],
        splits={"train": "train", "validation": "test"},
    )
