"""The data module under DDP. Evaluation loaders: the batches of all tasks dealt to the
processes as one sequence, each row on exactly one process, every process with some
batch, and a clear error when there are fewer rows than processes. The tokenizer:
trained once when processes start together. (Through the ``mtl`` command, with real
processes: tests/test_distributed_command.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import mtl.data.run_tokenizer
from mtl.data import DataError, MultiTaskDataModule, Task, TokenizerSpec
from mtl.data.shard_sampler import ShardSampler


def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validation: dict[str, int], setup: bool = True) -> MultiTaskDataModule:
    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    tasks = [
        Task(name, "classification", {"path": "synthetic", "train": 24, "validation": rows, "test": 1, "seed": 0},
             text="text", label="sentiment", labels=["negative", "neutral", "positive"],
             splits={"train": "train", "validation": "validation"})
        for name, rows in validation.items()
    ]  # fmt: skip
    dm = MultiTaskDataModule(tasks, batch_size=2, eval_batch_size=4, tokenizer=TokenizerSpec(vocab_size=80, min_frequency=1))
    if setup:
        dm.setup("fit")
    return dm


def rows_per_process(dm: MultiTaskDataModule, world: int) -> list[dict[str, list[int]]]:
    """``[{task: row indices}]``, one dict per process."""
    seen = []
    for rank in range(world):
        dm.trainer = SimpleNamespace(world_size=world, global_rank=rank)
        loaders = dm.val_dataloader()
        seen.append({loader.dataset.task: [i for batch in loader for i in batch["index"].tolist()] for loader in loaders})
        assert [len(loader) for loader in loaders] == [len(list(loader)) for loader in loaders]
    dm.trainer = None
    return seen


@pytest.mark.parametrize("world", [2, 3, 5])
def test_every_row_on_one_process_and_every_process_evaluates(
    world: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = {"big": 11, "single": 1, "small": 3}
    dm = data(tmp_path, monkeypatch, sizes)
    seen = rows_per_process(dm, world)
    for task, n in sizes.items():
        rows = [i for process in seen for i in process[task]]
        assert sorted(rows) == list(range(n)), task  # each row once, none repeated
    assert all(sum(len(rows) for rows in process.values()) > 0 for process in seen)
    assert sum(1 for process in seen if process["single"]) == 1  # the other processes have an empty loader of it


def test_one_process_keeps_whole_batches_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dm = data(tmp_path, monkeypatch, {"big": 11, "single": 1})
    big, single = dm.val_dataloader()
    assert [len(batch["index"]) for batch in big] == [4, 4, 3]
    assert [len(batch["index"]) for batch in single] == [1]
    assert big.sampler.__class__ is not ShardSampler


def test_shard_sampler_deals_after_the_earlier_loaders() -> None:
    dataset = list(range(5))
    assert [list(ShardSampler(dataset, 2, rank, offset=3)) for rank in (0, 1)] == [[1, 3], [0, 2, 4]]
    assert [len(ShardSampler(dataset, 3, rank, offset=1)) for rank in (0, 1, 2)] == [1, 2, 2]


def test_fewer_validation_rows_than_processes_is_refused_with_the_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dm = data(tmp_path, monkeypatch, {"one": 1, "two": 2})
    dm.trainer = SimpleNamespace(world_size=4, global_rank=0)
    with pytest.raises(DataError) as error:
        dm.val_dataloader()
    message = str(error.value)
    assert "the validation splits have 3 rows in all (one: 1, two: 2) for 4 processes" in message
    assert "run on at most 3 processes (--trainer.devices, --trainer.num_nodes)" in message


def test_processes_starting_together_train_one_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun and srun start every process at once with an empty cache: one trains the
    tokenizer and the others load it (two trainings give two vocabularies)."""
    trained = []
    train = mtl.data.run_tokenizer.train_tokenizer

    def slow_train(*args: object, **kwargs: object) -> object:
        trained.append(threading.get_ident())
        time.sleep(0.5)  # the other process looks for the file meanwhile
        return train(*args, **kwargs)

    monkeypatch.setattr(mtl.data.run_tokenizer, "train_tokenizer", slow_train)
    modules = [data(tmp_path, monkeypatch, {"a": 2}, setup=False) for _ in range(2)]
    threads = [threading.Thread(target=dm.prepare) for dm in modules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(trained) == 1
    assert modules[0].tokenizer.to_str() == modules[1].tokenizer.to_str()
    assert modules[0].tokenizer_path == modules[1].tokenizer_path
