"""The README's DDP launch recipes through the ``mtl`` command, with the callbacks and
loggers it installs: Lightning's own launcher, torchrun on one node, torchrun as two
single-process nodes on localhost, and the environment SLURM's ``srun`` gives two tasks
(run from the ``srun`` line of launch/slurm.sbatch). Each must finish and equal one
process on the same global batch (data.batch_size 2B against 2 x B): the weights in
``last.ckpt``, the validation metrics in ``results-fit.json``, one run directory and one
W&B offline run. One task of the config validates on a single row: the process that
gets none of it must still take part in its metrics' reduction. So must a process none of
whose rows carry a task's label (an input group with missing labels, validated on 2
processes and on 1).

tests/test_distributed.py checks the same equalities for many balancers on a Trainer
built in Python; this file checks what only the command adds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from command import ROOT
from test_command_missing_labels import config as missing_labels_config
from test_command_missing_labels import rows as missing_labels_rows
from test_command_missing_labels import write_jsonl

CONFIG = ROOT / "tests" / "configs" / "ddp.yaml"
SBATCH = ROOT / "launch" / "slurm.sbatch"
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
MTL = [sys.executable, "-m", "mtl"]
STEPS = 8  # one epoch of the config, then its validation
BATCH = 4  # per process; the one-process run takes 2 x BATCH
TIMEOUT = 240  # a hang (a collective that only some processes reach) fails here, not forever


def fit_options(config: Path, *extra: str) -> list[str]:
    return ["fit", "-c", str(config), "--trainer.accelerator=cpu", f"--trainer.max_steps={STEPS}", *extra]


def ddp_options(config: Path, devices: int, nodes: int = 1) -> list[str]:
    return fit_options(
        config, "--trainer.strategy=ddp", f"--trainer.devices={devices}", f"--trainer.num_nodes={nodes}",
        f"--data.batch_size={BATCH}",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(cache: Path, **extra: str) -> dict[str, str]:
    # One CPU thread per process; no launcher variables of an enclosing job.
    launcher = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")
    base = {k: v for k, v in os.environ.items() if k not in launcher and not k.startswith(("SLURM_", "TORCHELASTIC_"))}
    return base | {"MTL_CACHE": str(cache), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"} | extra


def run_together(commands: list[tuple[list[str], dict[str, str]]], cwd: Path) -> None:
    """Start every process of one launch at once; all must exit 0 within TIMEOUT. Once
    one has failed, or time is up, the others are stopped (SIGTERM first: torchrun then
    stops its workers)."""
    cwd.mkdir(parents=True, exist_ok=True)
    logs = [cwd / f"process{i}.log" for i in range(len(commands))]
    processes = []
    for (command, env), log in zip(commands, logs):
        with log.open("w") as out:
            processes.append(
                subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            )
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(p.poll() is None for p in processes) and not any(p.returncode for p in processes):
            if time.monotonic() > deadline:
                pytest.fail(f"still running after {TIMEOUT} s (a hang):\n" + "\n".join(shlex.join(p.args) for p in processes))
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, f"{shlex.join(process.args)} exited {process.returncode}:\n{log.read_text()[-4000:]}"


def finished_run(cwd: Path, name: str) -> dict:
    """The one run made in ``cwd``: its final weights, validation results and W&B run."""
    runs = cwd / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [name, "wandb"], "a run directory other than runs/<name> and runs/wandb"
    versions = sorted(p.name for p in (runs / name).iterdir())
    assert versions == ["version_0"], f"one run directory expected: {versions}"
    offline = list((runs / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("*.wandb")), f"one W&B offline run expected: {offline}"
    run = runs / name / "version_0"
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for artefact in ("config.yaml", "tokenizer.json", "metrics.csv", "results-fit.md"):
        assert (run / artefact).is_file(), artefact
    assert not (run / "task_weights.png").exists()  # Sum: constant weights are not drawn
    return {
        "state": checkpoint["state_dict"],
        "step": checkpoint["global_step"],
        "results": json.loads((run / "results-fit.json").read_text()),
    }


def assert_same_run(one: dict, two: dict) -> None:
    keys = [k for k in one["state"] if k.startswith(("encoder.", "heads."))]
    assert keys and two["state"].keys() == one["state"].keys()
    for key in keys:
        torch.testing.assert_close(
            two["state"][key], one["state"][key], rtol=1e-4, atol=1e-5, msg=lambda m, key=key: f"{key}: {m}"
        )
    assert one["step"] == two["step"] == STEPS
    assert one["results"]["global_step"] == two["results"]["global_step"] == STEPS
    tasks = one["results"]["tasks"]
    assert tasks.keys() == two["results"]["tasks"].keys() == {"sentiment", "topic", "length"}
    assert tasks["topic"]["accuracy"] in (0.0, 1.0)  # its one validation row
    for task, metrics in tasks.items():  # every validation row counted once, on some process
        assert two["results"]["tasks"][task] == pytest.approx(metrics, abs=1e-5), task
    assert two["results"]["average"] == pytest.approx(one["results"]["average"], abs=1e-5)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tokenizer cache for all runs (trained once, by the first run)."""
    return tmp_path_factory.mktemp("ddp_command")


@pytest.fixture(scope="module")
def one_process(workspace: Path) -> dict:
    """The reference: one process with data.batch_size 2 x BATCH."""
    cwd = workspace / "one"
    run_together([([*MTL, *fit_options(CONFIG, f"--data.batch_size={2 * BATCH}")], environment(workspace / "cache"))], cwd)
    return finished_run(cwd, "ddp")


def test_lightning_launcher(workspace: Path, one_process: dict) -> None:
    """``mtl fit ... --trainer.strategy=ddp --trainer.devices=2``: Lightning starts rank 1."""
    cwd = workspace / "lightning"
    run_together([([*MTL, *ddp_options(CONFIG, devices=2)], environment(workspace / "cache"))], cwd)
    assert_same_run(one_process, finished_run(cwd, "ddp"))


def test_torchrun_one_node(workspace: Path, one_process: dict) -> None:
    cwd = workspace / "torchrun"
    rendezvous = ["--master-addr=127.0.0.1", f"--master-port={free_port()}"]
    command = [TORCHRUN, "--nproc-per-node=2", *rendezvous, "-m", "mtl", *ddp_options(CONFIG, devices=2)]
    run_together([(command, environment(workspace / "cache"))], cwd)
    assert_same_run(one_process, finished_run(cwd, "ddp"))


def test_torchrun_two_nodes_with_their_own_caches(workspace: Path, one_process: dict) -> None:
    """Two single-process "nodes" on localhost sharing the run folder (a shared file
    system) but not the tokenizer cache. Node 1's cache holds another tokenizer for the
    same corpus (as a stale cache, or training on another copy of the data, would give),
    and node 1 must encode with rank 0's."""
    cwd = workspace / "torchrun_nodes"
    rendezvous = ["--master-addr=127.0.0.1", f"--master-port={free_port()}"]
    own_cache = workspace / "node1-cache"
    (cached,) = (workspace / "cache" / "tokenizers").glob("*.json")
    tokenizer = json.loads(cached.read_text())
    vocab = tokenizer["model"]["vocab"]
    vocab["the"], vocab["."] = vocab["."], vocab["the"]  # same tokens and size; two frequent ones swap ids
    (own_cache / "tokenizers").mkdir(parents=True)
    (own_cache / "tokenizers" / cached.name).write_text(json.dumps(tokenizer))
    commands = [
        (
            [
                TORCHRUN,
                "--nnodes=2",
                "--nproc-per-node=1",
                f"--node-rank={node}",
                *rendezvous,
                "-m",
                "mtl",
                *ddp_options(CONFIG, devices=1, nodes=2),
            ],
            environment(workspace / "cache" if node == 0 else own_cache),
        )
        for node in (0, 1)
    ]
    run_together(commands, cwd)
    assert_same_run(one_process, finished_run(cwd, "ddp"))


def srun_command(devices: int, nodes: int) -> list[str]:
    """The ``srun`` line of launch/slurm.sbatch, with its variables filled in, run on CPUs."""
    script = SBATCH.read_text().replace("\\\n", " ")
    (line,) = [line for line in script.splitlines() if line.startswith("srun ")]
    values = {
        "CONFIG": str(CONFIG),
        "DATA": str(ROOT / "tests" / "data"),
        "SLURM_NTASKS_PER_NODE": str(devices),
        "SLURM_NNODES": str(nodes),
    }
    line = line.replace(' "${RESUME[@]}"', "")  # no checkpoint to resume from
    line = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], line)
    command = shlex.split(line)[1:]  # after `srun`
    assert command[0] == ".venv/bin/mtl" and "--trainer.accelerator=gpu" in command, line
    assert (
        "--trainer.strategy=ddp" in command
        and f"--trainer.devices={devices}" in command
        and f"--trainer.num_nodes={nodes}" in command
    )
    rest = [option.replace("--trainer.accelerator=gpu", "--trainer.accelerator=cpu") for option in command[1:]]
    return [*MTL, *rest, f"--trainer.max_steps={STEPS}", f"--data.batch_size={BATCH}"]


def test_srun_two_tasks(workspace: Path, one_process: dict) -> None:
    """What ``srun`` starts for a job of 2 tasks on one node (Lightning's SLURMEnvironment
    reads these variables): the launch line of launch/slurm.sbatch, twice."""
    cwd = workspace / "srun"
    command = srun_command(devices=2, nodes=1)
    slurm = {
        "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_JOB_NAME": "mtl",
        "SLURM_JOB_ID": "4242", "SLURM_NODELIST": "127.0.0.1", "SLURM_CPUS_PER_TASK": "1", "MASTER_PORT": str(free_port()),
    }  # fmt: skip
    commands = [(command, environment(workspace / "cache", **slurm, SLURM_PROCID=str(r), SLURM_LOCALID=str(r))) for r in (0, 1)]
    run_together(commands, cwd)
    assert_same_run(one_process, finished_run(cwd, "ddp"))


def test_a_pretrained_encoder_two_processes_equal_one(workspace: Path, tiny_pretrained) -> None:
    """A tiny pretrained BERT (dropout off), read with its own tokenizer: Lightning's DDP
    launcher on 2 processes equals one process on the same global batch."""
    fragment = workspace / "pretrained.yaml"
    fragment.write_text(
        "model:\n  encoder:\n    class_path: mtl.encoders.PretrainedEncoder\n"
        f"    init_args: {{model: '{tiny_pretrained('bert')}', dropout: 0.0}}\n  lr: 0.001\n"
    )
    env = environment(workspace / "cache")
    one, two = workspace / "pretrained-one", workspace / "pretrained-two"
    run_together([([*MTL, *fit_options(CONFIG, "-c", str(fragment), f"--data.batch_size={2 * BATCH}")], env)], one)
    run_together([([*MTL, *ddp_options(CONFIG, devices=2), "-c", str(fragment)], env)], two)
    assert_same_run(finished_run(one, "pretrained"), finished_run(two, "pretrained"))


def test_validation_with_missing_labels_two_processes_equal_one(workspace: Path) -> None:
    """``mood`` validates on 4 rows, 1 of them labelled (its label missing in the others,
    which still score ``topic``): the process whose rows carry no mood label adds nothing
    and takes part in the reduction; ``mtl validate`` on 2 processes equals 1."""
    cwd = workspace / "missing_labels"
    cwd.mkdir()
    write_jsonl(cwd / "train.jsonl", missing_labels_rows(40))
    dev = missing_labels_rows(4)
    dev[2]["mood"] = None
    write_jsonl(cwd / "dev.jsonl", dev)
    (cwd / "run.yaml").write_text(json.dumps(missing_labels_config("parameters")))
    env = environment(workspace / "cache")
    run_together([([*MTL, "fit", "-c", "run.yaml", "--trainer.accelerator=cpu", "--trainer.max_epochs=1"], env)], cwd)
    validate = [*MTL, "validate", "-c", "run.yaml", "--ckpt_path", "runs/run/version_0/checkpoints/last.ckpt"]
    results = cwd / "runs" / "run" / "version_0" / "results-validate.json"
    run_together([([*validate, "--trainer.accelerator=cpu"], env)], cwd)
    one = json.loads(results.read_text())["tasks"]
    results.unlink()  # written again by the 2-process run
    run_together([([*validate, "--trainer.accelerator=cpu", "--trainer.strategy=ddp", "--trainer.devices=2"], env)], cwd)
    two = json.loads(results.read_text())["tasks"]
    assert one["mood"]["accuracy"] in (0.0, 1.0)  # its one labelled row
    for task in ("topic", "mood"):
        assert two[task] == pytest.approx(one[task], abs=1e-5), task
