"""Loading a task's splits: selection, dropping empty text, and every declaration error."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import datasets
import pytest

from mtl.data.errors import DataError
from mtl.data.source import infer_labels, label_to_str, load_task_splits
from mtl.data.task import Task


def write_tsv(path: Path, rows: list[tuple[Any, ...]], header: tuple[str, ...] = ("sentence", "label")) -> str:
    lines = ["\t".join(header)] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def tsv_task(data_files: dict[str, str], **fields: Any) -> Task:
    fields = {"name": "sst2", "type": "classification", "text": "sentence", "labels": ["0", "1"], **fields}
    return Task(source={"path": "csv", "delimiter": "\t", "quoting": 3, "data_files": data_files}, **fields)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    train = [(f"sentence number {i}", i % 2) for i in range(10)]
    dev = [("a fine film", 1), ("a dull film", 0), ("so so", 1)]
    return {"train": write_tsv(tmp_path / "train.tsv", train), "validation": write_tsv(tmp_path / "dev.tsv", dev)}


def test_splits_are_keyed_by_role_and_train_is_cut(files: dict[str, str]) -> None:
    task = tsv_task({"train": files["train"], "dev": files["validation"]}, max_train_examples=4)
    task.splits = {"train": "train", "validation": "dev", "test": "dev"}
    loaded = load_task_splits(task)
    assert {role: len(ds) for role, ds in loaded.items()} == {"train": 4, "validation": 3, "test": 3}
    assert loaded["train"]["sentence"][:] == [f"sentence number {i}" for i in range(4)]
    assert infer_labels(task, loaded["train"]) == ["0", "1"]


def test_missing_split_lists_the_available_ones(files: dict[str, str]) -> None:
    task = tsv_task({"train": files["train"]})
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value) == (
        "task 'sst2': split 'validation' (for validation) not found in source 'csv' with data_files for ['train']; "
        "available splits: ['train']; change `splits:` or data_files"
    )


def test_missing_file_is_named_before_loading(files: dict[str, str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    task = tsv_task({"train": "train.tsv", "validation": "typo/dev.tsv"})
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    message = str(error.value)
    assert message.startswith("task 'sst2': data file for split 'validation' not found: typo/dev.tsv")
    assert str(tmp_path / "typo" / "dev.tsv") in message
    assert "fix `source.data_files`" in message
    assert load_task_splits(tsv_task({"train": "train.tsv", "validation": "dev.tsv"}))["validation"].num_rows == 3


def test_missing_glob_match_is_an_error(files: dict[str, str], tmp_path: Path) -> None:
    task = tsv_task({"train": str(tmp_path / "train-*.tsv"), "validation": files["validation"]})
    with pytest.raises(DataError, match=r"split 'train' not found: .*train-\*\.tsv"):
        load_task_splits(task)


def test_empty_split(files: dict[str, str], tmp_path: Path) -> None:
    task = tsv_task({"train": files["train"], "validation": write_tsv(tmp_path / "empty.tsv", [])})
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value) == (
        f"task 'sst2': {tmp_path / 'empty.tsv'} (split 'validation'): the file has a header but no rows; "
        "add rows or remove it from `source.data_files`"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("text", "sentense"), ("label", "labl"), ("text_pair", "sentence2")],
)
def test_missing_column_names_the_field_to_change(files: dict[str, str], field: str, value: str) -> None:
    task = tsv_task(files, **{field: value})
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value) == (
        f"task 'sst2': column '{value}' not found in split 'train' (from {files['train']}); "
        f"available columns: ['sentence', 'label']; set `{field}:` to one of them"
    )


def test_unknown_label(tmp_path: Path) -> None:
    def rows(*pairs: tuple[str, str]) -> list[dict]:
        return [{"sentence": sentence, "label": label} for sentence, label in pairs]

    train = write_jsonl(tmp_path / "train.jsonl", rows(("dull", "0"), ("fun", "1")))
    dev = write_jsonl(tmp_path / "dev.jsonl", rows(("fine", "1"), ("great", "positive")))
    task = Task(
        name="sst2",
        type="classification",
        source={"path": "json", "data_files": {"train": train, "validation": dev}},
        text="sentence",
        labels=["0", "1"],
    )
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value) == (
        f"task 'sst2': column 'label' in split 'validation' (from {dev}) has value 'positive' "
        "not in labels ['0', '1']; add it to labels: or fix the data"
    )


def test_missing_text_is_dropped_and_a_missing_label_kept_with_its_count(
    files: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dev = write_tsv(tmp_path / "dev3.tsv", [("fine", 1), ("", 0), ("   ", 1), ("ok", 0)])
    with caplog.at_level(logging.WARNING, logger="mtl.data.source"):
        loaded = load_task_splits(tsv_task({"train": files["train"], "validation": dev}))
    assert loaded["validation"]["sentence"][:] == ["fine", "ok"]
    assert f"task 'sst2': dropped 2 of 4 rows of split 'validation' (from {dev})" in caplog.text

    no_label = write_tsv(tmp_path / "dev4.tsv", [("fine", 1), ("meh", ""), ("so so", -1)])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mtl.data.source"):
        loaded = load_task_splits(tsv_task({"train": files["train"], "validation": no_label}, missing_value="-1"))
    assert loaded["validation"]["sentence"][:] == ["fine", "meh", "so so"]  # kept: other tasks may read them
    assert (
        f"task 'sst2': 2 of 3 rows of split 'validation' (from {no_label}) have no label in column 'label'; "
        "they are left out of this task's loss and metrics (1 rows labelled)"
    ) in caplog.text


def test_a_split_without_any_label_is_refused_naming_task_split_and_column(files: dict[str, str], tmp_path: Path) -> None:
    unlabelled = write_tsv(tmp_path / "none.tsv", [("fine", "?"), ("meh", "")])
    task = tsv_task({"train": unlabelled}, missing_value="?", splits={"train": "train"})
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value) == (
        f"task 'sst2': column 'label' in split 'train' (from {unlabelled}) has no labelled row: all 2 rows are "
        "missing (empty, null, '?'); check `label:` and `missing_value:`, or give the task a split with labels"
    )


def test_inferred_labels_leave_missing_values_out(tmp_path: Path) -> None:
    rows = [
        {"text": "a", "label": "pos"},
        {"text": "b", "label": None},
        {"text": "c", "label": "-"},
        {"text": "d", "label": "neg"},
    ]
    task = Task(
        name="s", type="classification", source={"path": "json", "data_files": write_jsonl(tmp_path / "t.jsonl", rows)},
        missing_value="-", splits={"train": "train"},
    )  # fmt: skip
    loaded = load_task_splits(task)
    assert len(loaded["train"]) == 4 and infer_labels(task, loaded["train"]) == ["neg", "pos"]
    tags = [{"words": ["a", "b"], "tags": ["X", "-"]}, {"words": ["c"], "tags": None}, {"words": ["d"], "tags": ["Y"]}]
    tagging = Task(
        name="t", type="tagging", source={"path": "json", "data_files": write_jsonl(tmp_path / "g.jsonl", tags)},
        text="words", label="tags", missing_value="-", splits={"train": "train"},
    )  # fmt: skip
    assert infer_labels(tagging, load_task_splits(tagging)["train"]) == ["X", "Y"]


def test_all_text_missing_is_an_error(files: dict[str, str], tmp_path: Path) -> None:
    dev = write_tsv(tmp_path / "blank.tsv", [("", 1), (" ", 0)])
    with pytest.raises(DataError, match=r"task 'sst2': split 'validation' .* no rows with text in column 'sentence'"):
        load_task_splits(tsv_task({"train": files["train"], "validation": dev}))


def test_loader_errors_are_wrapped(files: dict[str, str]) -> None:
    task = tsv_task(files)
    task.source["no_such_option"] = 1
    with pytest.raises(DataError) as error:
        load_task_splits(task)
    assert str(error.value).startswith("task 'sst2': could not load source 'csv'")
    assert "check `source:`" in str(error.value)
    assert error.value.__cause__ is not None


def test_declaration_errors(files: dict[str, str]) -> None:
    task = tsv_task(files, splits={"training": "train"})
    with pytest.raises(DataError, match=r"task 'sst2': unknown split role\(s\) \['training'\]"):
        load_task_splits(task)
    with pytest.raises(DataError, match="max_train_examples must be >= 1"):
        load_task_splits(tsv_task(files, max_train_examples=0))


def test_regression_values(tmp_path: Path) -> None:
    def rows(*scores: str) -> list[dict]:
        return [{"sentence1": "a", "sentence2": "b", "score": score} for score in scores]

    good = write_jsonl(tmp_path / "good.jsonl", rows("0.5", "4.25"))
    task = Task(
        name="stsb",
        type="regression",
        source={"path": "json", "data_files": {"train": good, "validation": good}},
        text="sentence1",
        text_pair="sentence2",
        label="score",
    )
    loaded = load_task_splits(task)
    assert loaded["train"]["score"][:] == ["0.5", "4.25"]
    assert infer_labels(task, loaded["train"]) == []
    for name, value, problem in [("word", "high", "not a number"), ("inf", "inf", "must be finite")]:
        bad = write_jsonl(tmp_path / f"{name}.jsonl", rows("1.0", value))
        task.source = {**task.source, "data_files": {"train": good, "validation": bad}}
        with pytest.raises(DataError, match=rf"task 'stsb': column 'score' in split 'validation' .* row 1.*{problem}"):
            load_task_splits(task)


def test_mixed_column_types_name_the_parser_error(files: dict[str, str], tmp_path: Path) -> None:
    dev = write_tsv(tmp_path / "mixed.tsv", [("fine", 1), ("great", "positive")])
    with pytest.raises(DataError) as error:
        load_task_splits(tsv_task({"train": files["train"], "validation": dev}))
    message = str(error.value)
    assert message.startswith("task 'sst2': could not load source 'csv'")
    assert "ArrowInvalid: Failed to parse string: 'positive'" in message
    assert "each column has one type in every file" in message


def tagging_task(data_files: dict[str, str], labels: list[str] | None = None) -> Task:
    return Task(
        name="pos",
        type="tagging",
        source={"path": "json", "data_files": data_files},
        text="tokens",
        label="tags",
        labels=labels,
    )


def test_tagging_labels_and_lengths(tmp_path: Path) -> None:
    rows = [{"tokens": ["the", "cat"], "tags": ["DET", "NOUN"]}, {"tokens": ["run"], "tags": ["VERB"]}]
    data = write_jsonl(tmp_path / "t.jsonl", rows)
    task = tagging_task({"train": data, "validation": data})
    assert infer_labels(task, load_task_splits(task)["train"]) == ["DET", "NOUN", "VERB"]

    with pytest.raises(DataError) as error:
        load_task_splits(tagging_task({"train": data, "validation": data}, labels=["DET", "NOUN"]))
    assert str(error.value) == (
        f"task 'pos': column 'tags' in split 'train' (from {data}) has value 'VERB' not in labels "
        "['DET', 'NOUN']; add it to labels: or fix the data"
    )

    short = write_jsonl(tmp_path / "short.jsonl", [{"tokens": ["the", "cat"], "tags": ["DET"]}])
    with pytest.raises(DataError, match=r"task 'pos': .* has 1 tags at row 0 but column 'tokens' has 2 words"):
        load_task_splits(tagging_task({"train": data, "validation": short}))


def test_unseen_evaluation_labels_are_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = write_jsonl(tmp_path / "tr.jsonl", [{"tokens": ["a"], "tags": ["X"]}])
    dev = write_jsonl(tmp_path / "dv.jsonl", [{"tokens": ["a", "b"], "tags": ["X", "Y"]}])
    with caplog.at_level(logging.WARNING, logger="mtl.data.source"):
        load_task_splits(tagging_task({"train": train, "validation": dev}))
    assert "1 label value(s) never seen in training: ['Y']" in caplog.text


def test_infer_labels_orders() -> None:
    def infer(task_type: str, values: list[Any], features: datasets.Features | None = None) -> list[str]:
        task = Task(name="t", type=task_type, source={"path": "csv"})
        return infer_labels(task, datasets.Dataset.from_dict({"label": values}, features=features))

    assert infer("classification", [10, 2, 1, 2]) == ["1", "2", "10"]
    assert infer("classification", ["b", "a", "c"]) == ["a", "b", "c"]
    assert infer("multilabel", [["x", "b"], [], ["a"]]) == ["a", "b", "x"]
    names = datasets.ClassLabel(names=["neg", "pos"])
    assert infer("classification", [1, 1], datasets.Features({"label": names})) == ["neg", "pos"]
    assert infer("classification", [1.0, None, 0.0]) == ["0", "1"]  # a CSV label column with a gap
    assert infer("regression", [0.5]) == []
    assert label_to_str(2.0) == "2" and label_to_str(0, ["neg", "pos"]) == "neg" and label_to_str("x") == "x"


def test_class_label_values_are_checked_by_name(tmp_path: Path) -> None:
    names = datasets.ClassLabel(names=["negative", "positive"])
    features = datasets.Features(sentence=datasets.Value("string"), label=names)
    data = datasets.Dataset.from_dict({"sentence": ["good", "bad"], "label": [1, 0]}, features=features)
    data.to_parquet(str(tmp_path / "cl.parquet"))
    task = Task(
        name="sst2",
        type="classification",
        source={"path": "parquet", "data_files": {"train": str(tmp_path / "cl.parquet")}},
        text="sentence",
        labels=["0", "1"],
        splits={"train": "train"},
    )
    with pytest.raises(DataError, match=r"has value 'positive' not in labels \['0', '1'\]"):
        load_task_splits(task)
    task.labels = ["negative", "positive"]
    assert len(load_task_splits(task)["train"]) == 2


def test_conllu_source(tmp_path: Path) -> None:
    path = tmp_path / "t.conllu"
    path.write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n", encoding="utf-8")
    task = Task(
        name="upos",
        type="tagging",
        source={"path": "conllu", "data_files": {"train": str(path)}},
        text="tokens",
        label="upos",
        splits={"train": "train"},
    )
    assert load_task_splits(task)["train"]["upos"][:] == [["INTJ"]]
    path.write_text("1\tHi\thi\tINTJ\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"^task 'upos': .*t\.conllu:1: malformed CoNLL-U line"):
        load_task_splits(task)
