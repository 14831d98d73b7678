"""Slicing a split by config (``train[:90%]``), a seeded order, and nested fields (``labels.label``)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from mtl.data.errors import DataError
from mtl.data.source import load_task_splits
from mtl.data.split_slice import SplitSlice, parse_split
from mtl.data.task import Task

WHERE = "task 't': `splits: train:`"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("train", SplitSlice("train")),
        ("train[:90%]", SplitSlice("train", None, "90%")),
        ("train[90%:]", SplitSlice("train", "90%", None)),
        ("validation[10:250]", SplitSlice("validation", 10, 250)),
        ("train[-500:]", SplitSlice("train", -500, None)),
        (" train [ 5% : 15% ] ", SplitSlice("train", "5%", "15%")),
    ],
)
def test_parse_split(spec: str, expected: SplitSlice) -> None:
    assert parse_split(spec, WHERE) == expected


@pytest.mark.parametrize("spec", ["train[:90]%", "train[a:b]", "train[1:2:3]", "train[:101%]", "[:5]", "train[:5"])
def test_parse_split_refuses_other_forms_naming_task_role_and_forms(spec: str) -> None:
    with pytest.raises(DataError, match=r"task 't': `splits: train:`: split .* (is not a split name|percentage)"):
        parse_split(spec, WHERE)


@pytest.mark.parametrize("count", [1, 7, 10, 99, 1001, 12544])
@pytest.mark.parametrize("spec", ["train[:90%]", "train[90%:]", "train[33%:67%]", "train[:5]", "train[-3:]", "train[2:-2]"])
def test_slice_rows_equal_the_datasets_librarys_own_slicing(spec: str, count: int) -> None:
    ours = parse_split(spec, WHERE).rows(count)
    (theirs,) = datasets.ReadInstruction.from_spec(spec).to_absolute({"train": count})
    assert (ours.start, ours.stop) == (theirs.from_, theirs.to) or (len(ours) == 0 and theirs.from_ >= theirs.to)


def test_ewt_train_split_90_10_by_config_gives_the_sentence_counts(shared_data: Path) -> None:
    train_file = str(shared_data / "ud_english_ewt" / "en_ewt-ud-train.conllu")
    task = Task(
        name="upos", type="tagging", text="tokens", label="upos",
        source={"path": "conllu", "data_files": {"train": train_file}},
        splits={"train": "train[:90%]", "validation": "train[90%:]"},
    )  # fmt: skip
    parts = load_task_splits(task)
    assert (len(parts["train"]), len(parts["validation"])) == (11290, 1254)  # 12,544 sentences: round(0.9 * 12544) = 11290
    assert parts["validation"][0]["sent_id"] == "reviews-315763-0004"  # sentence 11,291 of the file
    assert sum(len(t) for t in parts["train"]["tokens"]) + sum(len(t) for t in parts["validation"]["tokens"]) == 204577

    shuffled = load_task_splits(Task(**{**task.__dict__, "shuffle_seed": 7}))
    again = load_task_splits(Task(**{**task.__dict__, "shuffle_seed": 7}))
    train_ids, validation_ids = set(shuffled["train"]["sent_id"]), set(shuffled["validation"]["sent_id"])
    assert (len(train_ids), len(validation_ids)) == (11290, 1254) and not train_ids & validation_ids
    assert train_ids | validation_ids == set(parts["train"]["sent_id"]) | set(parts["validation"]["sent_id"])
    assert shuffled["validation"]["sent_id"] == again["validation"]["sent_id"]  # one order for a seed, in every process
    assert validation_ids != set(parts["validation"]["sent_id"])


def test_conllu_source_with_a_split_key_names_the_splits_option(shared_data: Path) -> None:
    train_file = str(shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu")
    task = Task(
        name="upos",
        type="tagging",
        text="tokens",
        label="upos",
        source={"path": "conllu", "data_files": train_file, "split": "train"},
    )
    with pytest.raises(
        DataError,
        match=r"task 'upos': unknown key 'split' in `source:` for path 'conllu'; select and slice splits with `splits:`",
    ):
        load_task_splits(task)


def test_a_slice_selecting_nothing_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(5)))
    task = Task(
        name="t", type="classification", source={"path": "json", "data_files": str(data)},
        splits={"train": "train[:100%]", "validation": "train[100%:]"},
    )  # fmt: skip
    with pytest.raises(
        DataError, match=r"task 't': `splits: validation: train\[100%:\]` selects no row of split 'train' \(5 rows\)"
    ):
        load_task_splits(task)


def nested_rows() -> list[dict]:
    return [
        {"sentence1": "a b", "sentence2": "a c", "labels": {"label": 4.9, "real-label": 4.857, "binary-label": 1}},
        {"sentence1": "x y", "sentence2": "z w", "labels": {"label": 0.5, "real-label": 0.4, "binary-label": 0}},
    ]


def test_nested_label_field_by_path(tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in nested_rows()))
    task = Task(
        name="sts", type="regression", text="sentence1", text_pair="sentence2", label="labels.label",
        source={"path": "json", "data_files": str(data)}, splits={"train": "train"},
    )  # fmt: skip
    assert load_task_splits(task)["train"]["labels.label"] == [4.9, 0.5]
    binary = load_task_splits(Task(**{**task.__dict__, "type": "classification", "label": "labels.binary-label"}))
    assert binary["train"]["labels.binary-label"] == [1, 0]
    with pytest.raises(
        DataError, match=r"column 'labels.score' not found .* available columns \(nested fields as a.b\): .*'labels.real-label'"
    ):
        load_task_splits(Task(**{**task.__dict__, "label": "labels.score"}))
