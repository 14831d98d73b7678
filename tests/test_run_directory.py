"""The run directory under DDP: every process names rank 0's ``version_N``, and the
callbacks the ``mtl`` command installs find it without a collective, so code that only
rank 0 runs cannot wait for the others. (The launches themselves, with real processes:
tests/test_distributed_command.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from mtl.callbacks import BalancerPlots, PredictionWriter, ResultsTable
from mtl.run_directory import SameRunVersion, run_directory


class NoCollectives:
    """A strategy whose collectives fail: a callback that calls one (``trainer.log_dir``
    broadcasts) would hang under DDP when only rank 0 gets there."""

    def __init__(self, broadcast_result: object = None) -> None:
        self.broadcast_result = broadcast_result

    def broadcast(self, obj: object, src: int = 0) -> object:
        if self.broadcast_result is None:
            raise AssertionError("broadcast: a collective")
        return self.broadcast_result

    def barrier(self, name: str | None = None) -> None:
        raise AssertionError("barrier: a collective")

    def reduce(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("reduce: a collective")


def fake_trainer(tmp_path: Path, rank: int = 0, world_size: int = 2, **kwargs: object) -> SimpleNamespace:
    """Has no ``log_dir``: reading it fails."""
    fields = {
        "loggers": [CSVLogger(tmp_path / "runs", name="demo")],
        "default_root_dir": str(tmp_path / "runs"),
        "world_size": world_size,
        "global_rank": rank,
        "is_global_zero": rank == 0,
        "strategy": NoCollectives(),
        "callback_metrics": {"val/sentiment/accuracy": torch.tensor(0.75), "val/average": torch.tensor(0.75)},
        "current_epoch": 1,
        "global_step": 8,
        "state": SimpleNamespace(fn="fit"),
    }
    return SimpleNamespace(**(fields | kwargs))


def test_other_processes_take_rank_zeros_version(tmp_path: Path) -> None:
    (tmp_path / "runs" / "demo" / "version_0").mkdir(parents=True)  # made by rank 0 before this process looked
    trainer = fake_trainer(tmp_path, rank=1, strategy=NoCollectives(broadcast_result=[0, 3]))
    trainer.loggers.append(CSVLogger(tmp_path / "runs", name="second"))
    SameRunVersion().setup(trainer, None, "fit")
    assert [logger.version for logger in trainer.loggers] == [0, 3]
    assert run_directory(trainer) == tmp_path / "runs" / "demo" / "version_0"


def test_one_process_needs_no_broadcast(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path, world_size=1)
    SameRunVersion().setup(trainer, None, "fit")
    assert run_directory(trainer) == tmp_path / "runs" / "demo" / "version_0"
    assert run_directory(fake_trainer(tmp_path, loggers=[])) == tmp_path / "runs"


def test_rank_zero_callbacks_write_into_the_run_directory_without_a_collective(tmp_path: Path) -> None:
    tokenizer = tmp_path / "cache" / "tokenizer.json"
    tokenizer.parent.mkdir()
    tokenizer.write_text("{}")
    rows = [{"text": "a b"}, {"text": "c"}]
    datamodule = SimpleNamespace(tokenizer_path=tokenizer, predict_input=lambda index: rows[index])
    trainer = fake_trainer(tmp_path, datamodule=datamodule)
    module = SimpleNamespace(balancer=SimpleNamespace(last_weights={"sentiment": 1.0}), last_cosines={})
    run = tmp_path / "runs" / "demo" / "version_0"

    results = ResultsTable()
    results.on_fit_start(trainer, module)
    results.on_fit_end(trainer, module)
    assert (run / "tokenizer.json").read_text() == "{}"
    assert json.loads((run / "results-fit.json").read_text())["tasks"] == {"sentiment": {"accuracy": 0.75}}

    plots = BalancerPlots()
    plots.on_train_batch_end(trainer, module)
    module.balancer.last_weights = {"sentiment": 0.5}  # a weight that changes is drawn
    trainer.global_step = 9
    plots.on_train_batch_end(trainer, module)
    plots.on_fit_end(trainer, module)
    assert (run / "task_weights.png").stat().st_size > 0

    PredictionWriter().write_on_epoch_end(trainer, module, [[{"index": 1, "x": 2}, {"index": 0, "x": 1}]], [])
    assert (run / "predictions.rank0.jsonl").read_text().splitlines() == [
        json.dumps({"index": 0, "text": "a b", "x": 1}),
        json.dumps({"index": 1, "text": "c", "x": 2}),
    ]


@pytest.mark.parametrize("rank", [0, 1])
def test_prediction_files_of_every_rank_in_the_shared_run_directory(rank: int, tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path, rank=rank, datamodule=SimpleNamespace())
    trainer.strategy = NoCollectives(broadcast_result=[0])
    (tmp_path / "runs" / "demo" / "version_0").mkdir(parents=True)
    SameRunVersion().setup(trainer, None, "predict")
    PredictionWriter().write_on_epoch_end(trainer, None, [[{"index": 0}]], [])
    assert (tmp_path / "runs" / "demo" / "version_0" / f"predictions.rank{rank}.jsonl").is_file()
