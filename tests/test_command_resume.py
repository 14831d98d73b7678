"""`mtl fit` killed with SIGKILL mid-epoch and resumed with `--ckpt_path` ends where an
uninterrupted run ends, bit for bit, and continues the killed run's own directory: the
same version_N, one metrics.csv, the same checkpoints folder and W&B run id.

Training length as `max_epochs` (every shipped config) and as `max_steps`; the kill comes
from `resume_run.KillAt` (tests/) given as `--trainer.callbacks`, right after step k.
One thread, so that two runs of the same config give the same numbers (README, "Seeds
and determinism").
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from command import mtl, small_tiny_config

TESTS = Path(__file__).resolve().parent
EPOCHS = ("--trainer.max_epochs=2", "--checkpoint.every_n_train_steps=5")  # 2 x 18 steps
# The same 36 steps as `max_steps`: the learning-rate schedule spans 36 steps either way
# and validation runs at the end of each epoch, so the uninterrupted run is the same.
STEPS = ("--trainer.max_epochs=-1", "--trainer.max_steps=36", "--checkpoint.every_n_train_steps=5")


def fit(cwd: Path, config: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "OMP_NUM_THREADS": "1",
        "MTL_CACHE": str(cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    return mtl("fit", "-c", str(config), "--trainer.enable_model_summary=false", *args, cwd=cwd, env=env, timeout=300)


def kill_at(step: int) -> str:
    return "--trainer.callbacks=" + json.dumps([{"class_path": "resume_run.KillAt", "init_args": {"step": step}}])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The config and a tokenizer cache shared by every run here."""
    root = tmp_path_factory.mktemp("command_resume")
    return small_tiny_config(root), root / "cache"


@pytest.fixture(scope="module")
def uninterrupted(setup: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    config, cache = setup
    cwd = tmp_path_factory.mktemp("uninterrupted")
    done = fit(cwd, config, cache, *EPOCHS)
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd / "runs" / "tiny" / "version_0"


@pytest.mark.parametrize(
    ("length", "kill", "saved_step", "resume_with"),
    [
        (EPOCHS, 13, 10, "path"),  # epoch 0, before the first validation
        (STEPS, 27, 25, "last"),  # epoch 1, batch 7
    ],
    ids=["max_epochs", "max_steps"],
)
def test_sigkill_mid_epoch_then_resume_continues_the_same_run_exactly(
    length: tuple[str, ...],
    kill: int,
    saved_step: int,
    resume_with: str,
    setup: tuple[Path, Path],
    uninterrupted: Path,
    tmp_path: Path,
) -> None:
    config, cache = setup
    killed = fit(tmp_path, config, cache, *length, kill_at(kill))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    last = run / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == saved_step and 0 < saved_step % 18, "the checkpoint is not mid-epoch"

    ckpt = str(last.relative_to(tmp_path)) if resume_with == "path" else "last"
    resumed = fit(tmp_path, config, cache, *length, "--ckpt_path", ckpt)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Restored all states from the checkpoint at {last.relative_to(tmp_path)}" in resumed.stderr + resumed.stdout

    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"], "the resumed run went to another directory"
    assert_same_weights(uninterrupted / "checkpoints" / "last.ckpt", last)
    assert_same_metrics(uninterrupted, run)
    ids = [p.stem.removeprefix("run-") for p in (tmp_path / "runs" / "wandb").glob("offline-run-*/run-*.wandb")]
    assert len(ids) == 2 and ids[0] == ids[1], f"not the same W&B run: {ids}"


def assert_same_weights(expected_path: Path, actual_path: Path) -> None:
    expected = torch.load(expected_path, weights_only=True)
    actual = torch.load(actual_path, weights_only=True)
    assert actual["global_step"] == expected["global_step"] == 36
    assert actual["state_dict"].keys() == expected["state_dict"].keys()
    for key, value in expected["state_dict"].items():
        assert torch.equal(actual["state_dict"][key], value), key


def assert_same_metrics(expected: Path, actual: Path) -> None:
    """The final validation and metrics.csv: every step's row once, in order, with the same
    losses and validation metrics. (Epoch-level training means of the epoch the run was
    resumed in cover only the batches after the resume: Lightning keeps those sums
    outside the checkpoint; they are not compared.)"""
    results = [json.loads((d / "results-fit.json").read_text()) for d in (expected, actual)]
    assert results[1]["tasks"] == results[0]["tasks"] and results[1]["global_step"] == results[0]["global_step"]
    rows = [list(csv.DictReader((d / "metrics.csv").read_text().splitlines())) for d in (expected, actual)]
    assert [(r["epoch"], r["step"]) for r in rows[1]] == [(r["epoch"], r["step"]) for r in rows[0]]
    for theirs, ours in zip(*rows):
        assert ours["train/loss_step"] == theirs["train/loss_step"], ours["step"]
        assert {k: v for k, v in ours.items() if k.startswith("val/")} == {
            k: v for k, v in theirs.items() if k.startswith("val/")
        }
    assert sum(1 for r in rows[1] if r["val/average"]) == 2


def test_a_resumed_csv_log_replaces_the_rows_after_the_checkpoint_and_a_cut_line(tmp_path: Path) -> None:
    from mtl.tracking import RunCSVLogger

    run = tmp_path / "x" / "version_3"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,step,train/loss\n0,4,1.5\n0,9,1.25\n0,14,1.0\n0,19,0.7")  # killed mid-line
    logger = RunCSVLogger(save_dir=str(tmp_path), name="x", version=3, resume=True)
    logger.log_metrics({"train/loss": 0.9, "epoch": 0}, step=14)  # the first step the resumed run logs
    logger.log_metrics({"train/loss": 0.8, "val/average": 0.5, "epoch": 0}, step=19)  # a new column
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    assert [(r["step"], r["train/loss"], r["val/average"]) for r in rows] == [
        ("4", "1.5", ""), ("9", "1.25", ""), ("14", "0.9", ""), ("19", "0.8", "0.5")
    ]  # fmt: skip

    fresh = RunCSVLogger(save_dir=str(tmp_path), name="x", version=3)  # not resuming: a new log, as Lightning's
    with pytest.warns(UserWarning, match="will be deleted"):
        fresh.log_metrics({"train/loss": 2.0}, step=0)
    assert (run / "metrics.csv").read_text().splitlines() == ["step,train/loss", "0,2.0"]
