"""Two DDP processes (gloo, CPU) make the same updates as one process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("distributed_run.py")


def train(out: Path, balancer: str, mode: str, devices: int, batch_size: int, tmp_path: Path) -> dict[str, torch.Tensor]:
    env = os.environ | {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(SCRIPT), str(out), "--balancer", balancer, "--mode", mode,
               "--devices", str(devices), "--batch-size", str(batch_size), "--data", str(tmp_path / "corpus")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize(
    ("balancer", "mode"),
    [("Sum", "parameters"), ("PCGrad", "parameters"), ("MGDA", "representation")],
)
def test_two_processes_match_one_on_the_same_global_batch(balancer: str, mode: str, tmp_path: Path) -> None:
    one = train(tmp_path / "one.pt", balancer, mode, devices=1, batch_size=8, tmp_path=tmp_path)
    two = train(tmp_path / "two.pt", balancer, mode, devices=2, batch_size=4, tmp_path=tmp_path)
    keys = [k for k in one["final"] if k.startswith(("encoder.", "heads."))]
    moved = [k for k in keys if not torch.equal(one["final"][k], one["initial"][k])]
    assert len(moved) == len(keys), f"parameters that did not train: {sorted(set(keys) - set(moved))}"
    for key in keys:
        torch.testing.assert_close(two["final"][key], one["final"][key], rtol=1e-4, atol=1e-5, msg=lambda m: f"{key}: {m}")
