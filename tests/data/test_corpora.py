"""The declared real corpora load with their official sizes (needs ../shared/data)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mtl.data.corpora import GLUE_TASKS, UD_COLUMNS, glue_task, nsmc_task, ud_ewt_task
from mtl.data.source import infer_labels, load_task_splits

GLUE_SIZES = {
    "sst2": (67349, 872),
    "cola": (8551, 1043),
    "mrpc": (3668, 408),
    "stsb": (5749, 1500),
    "rte": (2490, 277),
}


def test_every_glue_task_has_sizes() -> None:
    assert set(GLUE_TASKS) == set(GLUE_SIZES)


@pytest.mark.parametrize("name", list(GLUE_SIZES))
def test_glue_official_sizes(shared_data: Path, name: str) -> None:
    task = glue_task(name, shared_data)
    loaded = load_task_splits(task)
    assert (len(loaded["train"]), len(loaded["validation"])) == GLUE_SIZES[name]
    if task.type == "regression":
        scores = loaded["validation"][task.label][:]
        assert min(scores) == 0.0 and max(scores) == 5.0
    else:
        assert infer_labels(task, loaded["train"]) == task.labels
    for role in ("train", "validation"):
        assert all(text.strip() for text in loaded[role][task.text][:])


def test_glue_file_quirks_are_handled(shared_data: Path) -> None:
    mrpc = load_task_splits(glue_task("mrpc", shared_data))["train"]
    assert mrpc.column_names[0] == "Quality"  # no byte order mark in the name
    assert mrpc[0]["#1 String"].startswith('Amrozi accused his brother, whom he called "the witness"')
    cola = load_task_splits(glue_task("cola", shared_data))["train"]
    assert cola[0]["sentence"] == "Our friends won't buy this analysis, let alone the next one we propose."
    assert cola[0]["source"] == "gj04"


def test_glue_rejects_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown GLUE task 'qqp'"):
        glue_task("qqp", tmp_path)


def test_nsmc_drops_empty_documents(shared_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    task = nsmc_task(shared_data)
    with caplog.at_level(logging.WARNING, logger="mtl.data.source"):
        loaded = load_task_splits(task)
    # 150,000 / 50,000 rows in the files; 5 / 3 of them have an empty document.
    assert (len(loaded["train"]), len(loaded["validation"])) == (149995, 49997)
    assert "dropped 5 of 150000 rows of split 'train'" in caplog.text
    assert "dropped 3 of 50000 rows of split 'test'" in caplog.text
    assert infer_labels(task, loaded["train"]) == ["0", "1"]


@pytest.mark.parametrize("column", UD_COLUMNS)
def test_ud_ewt_tagging_tasks(shared_data: Path, column: str) -> None:
    task = ud_ewt_task(column, column, shared_data)
    loaded = load_task_splits(task)
    assert {role: len(ds) for role, ds in loaded.items()} == {"train": 12544, "validation": 2001, "test": 2077}
    labels = infer_labels(task, loaded["train"])
    expected = {"upos": 17, "xpos": 49, "deprel": 51}
    if column in expected:
        assert len(labels) == expected[column]
    else:
        assert "_" in labels and "Number=Sing" in labels
