"""The multi-task data module on small JSONL corpora: labels, tokenizer cache, loaders,
prediction inputs and declaration errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from mtl.data import DataError, MultiTaskDataModule, Task, TokenizerSpec
from mtl.data.loader import MultiTaskTrainLoader
from mtl.data.tokenizer import load_tokenizer

WORDS = ["the", "a", "dog", "fox", "cat", "runs", "sleeps", "quick", "lazy", "brown", "big", "small", "jumps", "sees"]
TAGS = {"the": "DET", "a": "DET", "quick": "ADJ", "lazy": "ADJ", "brown": "ADJ", "big": "ADJ", "small": "ADJ",
        "dog": "NOUN", "fox": "NOUN", "cat": "NOUN", "runs": "VERB", "sleeps": "VERB", "jumps": "VERB", "sees": "VERB"}  # fmt: skip
SPEC = TokenizerSpec(vocab_size=60, min_frequency=1)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def sentence(i: int) -> list[str]:
    n = 2 + i % 4
    return [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n)]


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Three tasks; sizes cls 14/5 (+3 test), tag 10/4, reg 6/3. A fresh tokenizer cache."""
    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "mtl-cache"))
    cls_values = [10, 2, 1, 2, 10, 1, 2, 2, 10, 1, 1, 2, 10, 2]
    files = {
        "cls_train": write_jsonl(
            tmp_path / "cls_train.jsonl", [{"text": " ".join(sentence(i)), "label": v} for i, v in enumerate(cls_values)]
        ),
        "cls_dev": write_jsonl(
            tmp_path / "cls_dev.jsonl", [{"text": " ".join(sentence(20 + i)), "label": v} for i, v in enumerate([1, 2, 10, 2, 1])]
        ),
        "cls_test": write_jsonl(
            tmp_path / "cls_test.jsonl", [{"text": " ".join(sentence(40 + i)), "label": 1} for i in range(3)]
        ),
        "tag_train": write_jsonl(
            tmp_path / "tag_train.jsonl", [{"tokens": sentence(i), "tags": [TAGS[w] for w in sentence(i)]} for i in range(10)]
        ),
        "tag_dev": write_jsonl(
            tmp_path / "tag_dev.jsonl",
            [{"tokens": sentence(30 + i), "tags": [TAGS[w] for w in sentence(30 + i)]} for i in range(4)],
        ),
        "reg_train": write_jsonl(
            tmp_path / "reg_train.jsonl", [{"text": " ".join(sentence(i)), "score": i / 2} for i in range(6)]
        ),
        "reg_dev": write_jsonl(
            tmp_path / "reg_dev.jsonl", [{"text": " ".join(sentence(50 + i)), "score": 1.5} for i in range(3)]
        ),
    }
    tasks = [
        Task(
            name="cls",
            type="classification",
            source={
                "path": "json",
                "data_files": {"train": files["cls_train"], "validation": files["cls_dev"], "test": files["cls_test"]},
            },
        ),
        Task(
            name="tag",
            type="tagging",
            source={"path": "json", "data_files": {"train": files["tag_train"], "validation": files["tag_dev"]}},
            text="tokens",
            label="tags",
        ),
        Task(
            name="reg",
            type="regression",
            source={"path": "json", "data_files": {"train": files["reg_train"], "validation": files["reg_dev"]}},
            label="score",
        ),
    ]
    return {"tasks": tasks, "files": files, "tmp": tmp_path}


def module(corpus: dict[str, Any], **kwargs: Any) -> MultiTaskDataModule:
    kwargs = {"batch_size": 2, "tokenizer": SPEC, "bucket_batches": 1} | kwargs
    return MultiTaskDataModule(corpus["tasks"], **kwargs)


def test_labels_and_vocab_before_setup(corpus: dict[str, Any]) -> None:
    dm = module(corpus)
    assert dm.task_labels == {"cls": ["1", "2", "10"], "tag": ["ADJ", "DET", "NOUN", "VERB"], "reg": []}
    assert dm.encoded == {}  # nothing encoded yet
    assert dm.vocab_size == 60
    assert dm.tokenizer_path == corpus["tmp"] / "mtl-cache" / "tokenizers" / dm.tokenizer_path.name
    assert load_tokenizer(dm.tokenizer_path).get_vocab() == dm.tokenizer.get_vocab()


def test_declared_labels_win(corpus: dict[str, Any]) -> None:
    corpus["tasks"][0].labels = ["10", "2", "1", "7"]
    dm = module(corpus)
    assert dm.task_labels["cls"] == ["10", "2", "1", "7"]
    dm.setup("fit")
    assert dm.encoded["cls"]["train"]["labels"][:3] == [0, 1, 2]  # values 10, 2, 1


def test_tokenizer_is_cached_and_reused(corpus: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    first = module(corpus)
    with caplog.at_level(logging.INFO, logger="mtl.data.run_tokenizer"):
        first.prepare()
    assert any("training a wordpiece tokenizer" in r.message for r in caplog.records)
    path = first.tokenizer_path
    assert path is not None and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]

    caplog.clear()
    second = module(corpus)
    with caplog.at_level(logging.INFO, logger="mtl.data.run_tokenizer"):
        second.prepare()
    assert not any("training" in r.message for r in caplog.records)
    assert second.tokenizer_path == path
    assert path.stat().st_mtime_ns == stamp
    assert second.tokenizer.get_vocab() == first.tokenizer.get_vocab()

    other = module(corpus, tokenizer=TokenizerSpec(vocab_size=50, min_frequency=1))
    assert other.vocab_size == 50
    assert other.tokenizer_path != path and other.tokenizer_path.parent == path.parent


def test_tokenizer_path_is_written_then_loaded(corpus: dict[str, Any]) -> None:
    target = corpus["tmp"] / "tok" / "tokenizer.json"
    dm = module(corpus, tokenizer=TokenizerSpec(path=str(target), vocab_size=60, min_frequency=1))
    dm.prepare()
    assert dm.tokenizer_path == target and target.is_file()
    stamp = target.stat().st_mtime_ns
    again = module(corpus, tokenizer=TokenizerSpec(path=str(target), vocab_size=999))  # settings ignored: the file wins
    assert again.vocab_size == 60
    assert target.stat().st_mtime_ns == stamp
    assert not (corpus["tmp"] / "mtl-cache" / "tokenizers").exists()


def test_train_dataloader_yields_step_dicts(corpus: dict[str, Any]) -> None:
    dm = module(corpus)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert isinstance(loader, MultiTaskTrainLoader)
    steps = list(loader)
    assert len(loader) == len(steps) == 7 + 5 + 3  # ceil(14/2) + ceil(10/2) + ceil(6/2)
    for step in steps:
        assert len(step) == 1
        ((name, batch),) = step.items()
        assert batch["task"] == name
        assert batch["input_ids"].shape[0] in (1, 2)
        assert (batch["input_ids"][:, 0] == 2).all()  # [CLS]
    kinds = {name: step[name]["labels"].dtype for step in steps for name in step}
    assert kinds == {"cls": torch.long, "tag": torch.long, "reg": torch.float32}
    again = list(loader)  # the same epoch again: same tasks, same rows
    assert [{n: b["index"].tolist() for n, b in s.items()} for s in again] == [
        {n: b["index"].tolist() for n, b in s.items()} for s in steps
    ]


def test_all_sampling_serves_every_task_each_step(corpus: dict[str, Any]) -> None:
    dm = module(corpus, sampling="all", batch_size=4)
    dm.setup("fit")
    steps = list(dm.train_dataloader())
    assert len(steps) == 4  # ceil(14 / 4)
    assert all(list(step) == ["cls", "tag", "reg"] for step in steps)


def test_val_dataloaders_cover_every_row_once(corpus: dict[str, Any]) -> None:
    dm = module(corpus)  # eval batch 4
    dm.setup("fit")
    loaders = dm.val_dataloader()
    assert len(loaders) == 3
    sizes = {"cls": 5, "tag": 4, "reg": 3}
    for name, loader in zip(["cls", "tag", "reg"], loaders):
        batches = list(loader)
        assert [len(b["index"]) for b in batches] == [4] * (sizes[name] // 4) + ([sizes[name] % 4] if sizes[name] % 4 else [])
        assert all(b["task"] == name for b in batches)
        rows = [i for b in batches for i in b["index"].tolist()]
        assert sorted(rows) == list(range(sizes[name]))
        lengths = [int(n) for b in batches for n in b["attention_mask"].sum(dim=1)]
        assert lengths == sorted(lengths)  # sorted by length
    cls_labels = [label for b in list(loaders[0]) for label in zip(b["index"].tolist(), b["labels"].tolist())]
    assert sorted(cls_labels) == [(0, 0), (1, 1), (2, 2), (3, 1), (4, 0)]  # values 1, 2, 10, 2, 1
    reg = [v for b in list(loaders[2]) for v in b["labels"].tolist()]
    assert reg == [1.5, 1.5, 1.5]
    tag = next(iter(loaders[1]))
    assert tag["word_starts"].dtype == torch.bool
    assert (tag["labels"] != -100).eq(tag["word_starts"]).all()


def test_test_dataloader_needs_a_test_split_for_every_task(corpus: dict[str, Any]) -> None:
    corpus["tasks"][0].splits = {"train": "train", "validation": "validation", "test": "test"}
    dm = module(corpus)
    dm.setup("test")
    with pytest.raises(DataError) as error:
        dm.test_dataloader()
    assert str(error.value) == "tasks ['tag', 'reg'] declare no test split; add `test: <split name>` to their splits"

    only_cls = MultiTaskDataModule([corpus["tasks"][0]], batch_size=2, tokenizer=SPEC)
    only_cls.setup("test")
    (loader,) = only_cls.test_dataloader()
    batches = list(loader)
    assert sorted(i for b in batches for i in b["index"].tolist()) == [0, 1, 2]
    assert [v for b in batches for v in b["labels"].tolist()] == [0, 0, 0]


def test_predict_from_text_file(corpus: dict[str, Any]) -> None:
    lines = ["the quick dog runs", "a cat", "the lazy brown fox sees a big cat"]
    path = corpus["tmp"] / "inputs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dm = module(corpus, predict_file=str(path))
    dm.setup("predict")
    assert "predict" not in dm.encoded.get("cls", {})
    batches = list(dm.predict_dataloader())
    assert [len(b["index"]) for b in batches] == [3]  # eval batch 4
    (batch,) = batches
    assert batch["task"] == "predict"
    assert "labels" not in batch
    assert batch["index"].tolist() == [1, 0, 2]  # sorted by length
    assert batch["word_starts"].dtype == torch.bool
    assert batch["word_starts"].sum(dim=1).tolist() == [2, 4, 8]
    assert (batch["token_type_ids"] == 0).all()
    assert dm.predict_rows["text"][:] == lines


def test_predict_file_missing_column(corpus: dict[str, Any]) -> None:
    path = write_jsonl(corpus["tmp"] / "inputs.jsonl", [{"sentence": "the dog"}])
    dm = module(corpus, predict_file=path)
    with pytest.raises(DataError) as error:
        dm.setup("predict")
    assert str(error.value) == (
        f"data.predict_file {path!r} has no column 'text'; its columns are ['sentence'] "
        f"(set data.predict_text / data.predict_text_pair)"
    )
    dm = module(corpus, predict_file=path, predict_text="sentence", predict_text_pair="hypothesis")
    with pytest.raises(DataError, match="has no column 'hypothesis'"):
        dm.setup("predict")


def test_predict_without_or_with_missing_file(corpus: dict[str, Any]) -> None:
    with pytest.raises(DataError, match="no inputs to predict; set data.predict_file"):
        module(corpus).setup("predict")
    missing = str(corpus["tmp"] / "nope.txt")
    with pytest.raises(DataError, match=f"data.predict_file '{missing}' does not exist"):
        module(corpus, predict_file=missing).setup("predict")


def test_declaration_errors(corpus: dict[str, Any]) -> None:
    tasks = corpus["tasks"]
    with pytest.raises(DataError, match=r"no tasks declared; list at least one under data.tasks"):
        MultiTaskDataModule([])
    with pytest.raises(DataError) as error:
        MultiTaskDataModule([tasks[0], tasks[1], tasks[0]])
    assert str(error.value) == "task names must be unique; ['cls'] appear more than once in data.tasks"
    reserved = Task(name="predict", type="regression", source={"path": "json"})
    with pytest.raises(DataError, match="'predict' is reserved"):
        MultiTaskDataModule([reserved])


def test_data_dir_placeholder(corpus: dict[str, Any]) -> None:
    local = Task(
        name="local",
        type="classification",
        source={
            "path": "json",
            "data_files": {"train": "{data_dir}/cls_train.jsonl", "validation": ["{data_dir}/cls_dev.jsonl"]},
        },
    )
    with pytest.raises(DataError) as error:
        MultiTaskDataModule([local], tokenizer=SPEC)
    assert str(error.value) == (
        "task 'local': source '{data_dir}/cls_train.jsonl' uses {data_dir}; set data.data_dir (e.g. ../shared/data)"
    )
    folder = str(corpus["tmp"])
    dm = MultiTaskDataModule([local], data_dir=folder, tokenizer=SPEC)
    assert dm.tasks["local"].source["data_files"] == {
        "train": f"{folder}/cls_train.jsonl",
        "validation": [f"{folder}/cls_dev.jsonl"],
    }
    assert dm.task_labels == {"local": ["1", "2", "10"]}


def test_local_source_used_with_data_dir(corpus: dict[str, Any]) -> None:
    hub = Task(
        name="sst",
        type="classification",
        source={"path": "no-such/hub-dataset"},
        local_source={
            "path": "json",
            "data_files": {"train": "{data_dir}/cls_train.jsonl", "validation": "{data_dir}/cls_dev.jsonl"},
        },
    )
    dm = MultiTaskDataModule([hub], data_dir=str(corpus["tmp"]), tokenizer=SPEC)
    assert dm.tasks["sst"].source["path"] == "json"
    assert dm.tasks["sst"].local_source is None
    assert dm.task_labels == {"sst": ["1", "2", "10"]}
    assert MultiTaskDataModule([hub], tokenizer=SPEC).tasks["sst"].source == {"path": "no-such/hub-dataset"}
