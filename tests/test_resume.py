"""A run killed with SIGKILL mid-epoch and resumed from its last checkpoint ends with
exactly the weights of an uninterrupted run (dropout on, a stateful balancer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("resume_run.py")


def run(tmp_path: Path, out: str, root: str, *extra: str) -> subprocess.CompletedProcess:
    env = os.environ | {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        str(SCRIPT),
        str(tmp_path / out),
        "--root",
        str(tmp_path / root),
        "--data",
        str(tmp_path / "corpus"),
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


@pytest.mark.parametrize(
    ("balancer", "sampling"),
    [
        ("UncertaintyWeighting", "proportional"),  # learned log-variances
        ("PCGrad", "proportional"),  # manual optimisation
        ("DynamicWeightAverage", "annealed"),  # loss history across the epoch boundary; sampler epoch
        ("FAMO", "temperature"),  # logits, Adam moments and the previous losses
        ("GradVac", "all"),  # EMA targets of the gradient similarities
        ("MoCo", "all"),  # tracked Gram matrix, weights and step count, sized at the first step
    ],
)
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(balancer: str, sampling: str, tmp_path: Path) -> None:
    options = ("--balancer", balancer, "--sampling", sampling, "--steps", "40")
    full = run(tmp_path, "full.pt", "full", *options)
    assert full.returncode == 0, full.stderr[-3000:]

    killed = run(tmp_path, "never.pt", "killed", *options, "--kill-at", "17")
    assert killed.returncode == -signal.SIGKILL
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] == 15 and saved["epoch"] == 0  # every 5 steps; epoch 0 has > 17 steps

    resumed = run(tmp_path, "resumed.pt", "killed", *options, "--resume", str(last))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected = torch.load(tmp_path / "full.pt", weights_only=True)
    actual = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert expected["tensors"].keys() == actual["tensors"].keys()
    for key in expected["tensors"]:
        torch.testing.assert_close(
            actual["tensors"][key], expected["tensors"][key], rtol=0, atol=1e-6, msg=lambda m, key=key: f"{key}: {m}"
        )
    torch.testing.assert_close(actual["balancer"], expected["balancer"], rtol=0, atol=1e-9)
