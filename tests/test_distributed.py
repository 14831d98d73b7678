"""Two DDP processes (gloo, CPU) make the same updates as one process on the same global
batch, reach the same validation metrics, survive uneven task sizes and a NaN loss in one
process, and do the same when launched by torchrun as two single-process "nodes"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("distributed_run.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}


def train(out: Path, tmp_path: Path, *options: str, devices: int = 1, batch_size: int = 8) -> dict:
    command = [sys.executable, str(SCRIPT), str(out), "--devices", str(devices), "--batch-size", str(batch_size),
               "--data", str(tmp_path / "corpus"), *options]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out, weights_only=True)


def assert_same_run(one: dict, two: dict) -> None:
    keys = [k for k in one["final"] if k.startswith(("encoder.", "heads."))]
    moved = [k for k in keys if not torch.equal(one["final"][k], one["initial"][k])]
    assert moved, "no parameter trained"
    for key in keys:
        torch.testing.assert_close(
            two["final"][key], one["final"][key], rtol=1e-4, atol=1e-5, msg=lambda m, key=key: f"{key}: {m}"
        )
    assert two["steps"] == one["steps"]
    assert one["metrics"].keys() == two["metrics"].keys() and "val/average" in one["metrics"]
    for name, value in one["metrics"].items():  # every validation row counted once, on some process
        assert two["metrics"][name] == pytest.approx(value, abs=1e-5), name


@pytest.mark.parametrize(
    ("balancer", "mode"),
    [
        ("Sum", "parameters"),
        ("UncertaintyWeighting", "parameters"),
        ("FAMO", "parameters"),  # state updated from the global batch's losses
        ("GeometricMean", "parameters"),  # not linear in the losses
        ("STCH", "parameters"),  # weights from the global batch's losses
        ("ExcessMTL", "parameters"),  # state from the global batch's task gradients
        ("PCGrad", "parameters"),
        ("MGDA", "representation"),
    ],
)
def test_two_processes_match_one_on_the_same_global_batch(balancer: str, mode: str, tmp_path: Path) -> None:
    options = ("--balancer", balancer, "--mode", mode)
    one = train(tmp_path / "one.pt", tmp_path, *options)
    two = train(tmp_path / "two.pt", tmp_path, *options, devices=2, batch_size=4)
    keys = [k for k in one["final"] if k.startswith(("encoder.", "heads."))]
    moved = [k for k in keys if not torch.equal(one["final"][k], one["initial"][k])]
    assert len(moved) == len(keys), f"parameters that did not train: {sorted(set(keys) - set(moved))}"
    assert_same_run(one, two)


def test_uneven_task_sizes_with_one_task_per_step_finish_and_match(tmp_path: Path) -> None:
    """96 rows against 10, one task per step (idle heads under DDP), validation of 37 rows."""
    options = ("--animal-rows", "10", "--sampling", "proportional", "--steps", "8")
    one = train(tmp_path / "one.pt", tmp_path, *options)
    two = train(tmp_path / "two.pt", tmp_path, *options, devices=2, batch_size=4)
    assert_same_run(one, two)


def test_a_nan_loss_in_one_process_skips_the_step_in_every_process(tmp_path: Path) -> None:
    clean = train(tmp_path / "clean.pt", tmp_path)
    one = train(tmp_path / "one.pt", tmp_path, "--nan-at", "2", "0")
    two = train(tmp_path / "two.pt", tmp_path, "--nan-at", "2", "1", devices=2, batch_size=4)
    assert_same_run(one, two)
    changed = [k for k in one["final"] if not torch.equal(one["final"][k], clean["final"][k])]
    assert changed, "the skipped step made no difference: the NaN never happened"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(launcher: str, out: Path, tmp_path: Path) -> list[subprocess.Popen]:
    """Start the processes of one launch recipe (see README, "Distributed training")."""
    port = str(_free_port())
    script = [str(SCRIPT), str(out), "--batch-size", "4", "--data", str(tmp_path / "corpus")]
    rendezvous = ["--master-addr=127.0.0.1", f"--master-port={port}"]
    if launcher == "torchrun single node":
        commands = [([str(TORCHRUN), "--nproc-per-node=2", *rendezvous, *script, "--devices", "2"], {})]
    elif launcher == "torchrun two nodes":
        commands = [
            ([str(TORCHRUN), "--nnodes=2", "--nproc-per-node=1", f"--node-rank={node}", *rendezvous, *script, "--nodes", "2"], {})
            for node in (0, 1)
        ]
    else:  # what `srun` sets for each of 2 tasks on one node (Lightning's SLURMEnvironment)
        slurm = {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_NODEID": "0",
                 "SLURM_JOB_NAME": "mtl", "SLURM_JOB_ID": "4242", "SLURM_NODELIST": "127.0.0.1", "MASTER_PORT": port}  # fmt: skip
        commands = [
            ([sys.executable, *script, "--devices", "2"], slurm | {"SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)})
            for r in (0, 1)
        ]
    return [
        subprocess.Popen(
            command, env=_env(tmp_path) | extra, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command, extra in commands
    ]


@pytest.mark.parametrize("launcher", ["torchrun single node", "torchrun two nodes", "srun"])
def test_launch_recipes_match_one_process(launcher: str, tmp_path: Path) -> None:
    """torchrun on one node, torchrun as two single-process nodes on localhost, and the
    environment srun gives two tasks: each trains to the one-process result."""
    one = train(tmp_path / "one.pt", tmp_path)
    processes = _launch(launcher, tmp_path / "two.pt", tmp_path)
    try:
        for process in processes:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
    finally:
        for process in processes:
            process.kill()
    assert_same_run(one, torch.load(tmp_path / "two.pt", weights_only=True))
