"""The checkpoint files of `mtl fit`: `last.ckpt` without gaps under
`--checkpoint.every_n_train_steps`, permissions that follow the umask, no partial files
left by a kill during a save, and one-line errors for a truncated checkpoint or one of
another configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from command import mtl, small_tiny_config

from mtl.checkpoint_io import AtomicCheckpointIO
from mtl.cli import MultiTaskCLI
from mtl.data.datamodule import MultiTaskDataModule
from mtl.module import MultiTaskModule

UMASK = 0o022


class _LastCheckpointSeen(L.Callback):
    """At the start of every step: which step ``last.ckpt`` holds (None: no file yet)."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, {}

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        held = torch.load(self.path, weights_only=True)["global_step"] if self.path.exists() else None
        self.seen[trainer.global_step] = held


@pytest.fixture(scope="module")
def step_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, int | None]]:
    """`mtl fit` (in this process) for 2 epochs of 18 steps with a checkpoint every 5 steps
    and validation at the end of each epoch; the run's folder and what `last.ckpt` held
    before each step."""
    root = tmp_path_factory.mktemp("step_checkpoints")
    args = [
        "-c", str(small_tiny_config(root)), "--trainer.max_epochs=2", "--checkpoint.every_n_train_steps=5",
        "--trainer.logger=false", f"--trainer.default_root_dir={root / 'run'}", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]  # fmt: skip
    previous, threads = os.umask(UMASK), torch.get_num_threads()
    torch.set_num_threads(1)  # small model: one thread is fastest, also on a busy machine
    try:
        cli = MultiTaskCLI(MultiTaskModule, MultiTaskDataModule, run=False, args=args)
        seen = _LastCheckpointSeen(root / "run" / "checkpoints" / "last.ckpt")
        cli.trainer.callbacks.insert(0, seen)
        cli.trainer.fit(cli.model, cli.datamodule)
    finally:
        os.umask(previous)
        torch.set_num_threads(threads)
    return root / "run", seen.seen


def test_last_ckpt_is_written_every_n_steps_before_the_first_validation(step_run) -> None:
    _, seen = step_run
    # steps 0-17 are epoch 0; its validation (the monitored val/average) comes after step 18
    assert [seen[step] for step in range(18)] == [None] * 5 + [5] * 5 + [10] * 5 + [15] * 3
    assert seen[21] == 20 and seen[26] == 25  # in epoch 1 as well


def test_the_final_step_is_in_last_ckpt(step_run) -> None:
    run, _ = step_run
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 36  # not 35
    assert len(list((run / "checkpoints").glob("best-*.ckpt"))) == 1  # the top-k file as before


def test_checkpoint_files_follow_the_umask(step_run) -> None:
    run, _ = step_run
    for path in (run / "checkpoints").glob("*.ckpt"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK, path.name  # 0644, as a plain file


_KILLED_DURING_SAVE = """
import os, signal, sys
import torch
import mtl.checkpoint_io as io

def write_then_die(checkpoint, file):
    file.write(b"x" * 2_000_000)  # part of the checkpoint is on disk
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

io.torch.save = write_then_die
io.AtomicCheckpointIO().save_checkpoint({"w": torch.ones(3)}, sys.argv[1])
"""


def test_a_save_killed_midway_leaves_no_partial_file_after_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, target)
    killed = subprocess.run([sys.executable, "-c", _KILLED_DURING_SAVE, str(target)], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (partial,) = target.parent.glob(".*.partial")
    assert partial.stat().st_size == 2_000_000 and torch.load(target, weights_only=True) == {"step": 1}

    AtomicCheckpointIO().save_checkpoint({"step": 2}, target)  # the next save (or a resumed run's first)
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]
    assert torch.load(target, weights_only=True) == {"step": 2}


def test_partial_files_of_live_writers_are_kept(tmp_path: Path) -> None:
    from mtl.checkpoint_io import partial_name, remove_stale_partials

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = tmp_path / partial_name("last.ckpt")  # this process: perhaps another thread's save
        theirs = tmp_path / partial_name("best.ckpt").replace(f".{os.getpid()}@", f".{live.pid}@")
        foreign_fresh = tmp_path / ".last.ckpt.4242@elsewhere.0a1b2c3d.partial"  # another host, being written
        foreign_old = tmp_path / ".last.ckpt.4242@elsewhere.0a1b2c3e.partial"
        legacy_old = tmp_path / ".last.ckpt.k2j4_x9q.partial"  # an older mtl's name, no pid
        for path in (mine, theirs, foreign_fresh, foreign_old, legacy_old):
            path.write_bytes(b"x")
        hours_ago = time.time() - 3 * 3600
        for path in (foreign_old, legacy_old):
            os.utime(path, (hours_ago, hours_ago))
        removed = remove_stale_partials(tmp_path)
        assert sorted(p.name for p in removed) == sorted([foreign_old.name, legacy_old.name])
        assert mine.exists() and theirs.exists() and foreign_fresh.exists()
    finally:
        live.kill()
        live.wait()
    assert remove_stale_partials(tmp_path) == [theirs]  # its writer is gone now


# -- errors: one line naming the file and what to do, before anything is created ----------
def _error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: "), done.stderr[-3000:]
    return lines[-1]


@pytest.fixture
def truncated(step_run, tmp_path: Path) -> Path:
    """A copy of the run's checkpoints folder whose last.ckpt lost its second half."""
    run, _ = step_run
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for path in (run / "checkpoints").glob("*.ckpt"):
        (folder / path.name).write_bytes(path.read_bytes())
    data = (folder / "last.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(data[: len(data) // 2])
    return folder / "last.ckpt"


@pytest.mark.parametrize("option", ["--ckpt_path", "--model.transfer.checkpoint"])
def test_a_truncated_checkpoint_is_one_line_naming_the_file_and_the_others(option: str, truncated: Path, tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path)
    done = mtl("fit", "-c", str(config), option, str(truncated), cwd=tmp_path, timeout=300)
    line = _error_line(done)
    assert str(truncated) in line and "is truncated" in line
    (best,) = (truncated.parent).glob("best-*.ckpt")
    assert f"Other checkpoints in {truncated.parent} (newest first): {best.name}; pass one of them with" in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*/version_*"))


def test_a_checkpoint_of_another_config_names_the_parameters_and_keys_before_any_run_starts(step_run, tmp_path: Path) -> None:
    run, _ = step_run
    config = small_tiny_config(tmp_path)
    ckpt = run / "checkpoints" / "last.ckpt"
    done = mtl(
        "fit", "-c", str(config), "--model.encoder.init_args.hidden_dim=48", "--ckpt_path", str(ckpt), cwd=tmp_path, timeout=300
    )
    line = _error_line(done)
    assert f"--ckpt_path {ckpt} was written by a model of another configuration" in line
    assert "encoder.layers.0.weight_hh_l0 expected [192, 48] found [128, 32]" in line  # LSTM: 4 gates x hidden
    assert f"model.encoder.init_args.hidden_dim: 32 in {run / 'config.yaml'}, 48 now" in line
    assert not list((tmp_path / "runs").glob("*/version_*")), "a run directory was created"
    assert not list((tmp_path / "runs").glob("wandb/*run-*")), "a W&B run was started"
