"""``mtl affinity`` and the TaskAffinity callback in ``mtl fit``, as a user runs them: the
run directory holds the matrices named by the config's tasks, and the command prints
them with the task groupings they suggest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from command import mtl, small_tiny_config

TASKS = ["tags", "sentiment", "topic"]
PAIRS = [("tags", "sentiment"), ("tags", "topic"), ("sentiment", "topic")]


def test_affinity_command_prints_and_writes_the_matrices_and_groupings(tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path)  # 18 steps an epoch, validation after each
    done = mtl("affinity", "-c", str(config), "--steps", "24", "--affinity.every_n_steps", "4", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "affinity" / "version_0"  # apart from the config's trained runs
    record = json.loads((run / "affinity.json").read_text())
    assert record["tasks"] == TASKS
    assert record["steps"] == [0, 4, 8, 12, 16, 20]  # the warm-up's first step has a learning rate already
    affinity, cosine = record["affinity"], record["cosine"]
    assert len(affinity) == 3 and all(len(row) == 3 for row in affinity)
    assert all(affinity[i][i] > 0 for i in range(3)), affinity  # a step on a task lowers its own loss
    assert [cosine[i][i] for i in range(3)] == pytest.approx([1.0, 1.0, 1.0])
    assert all(cosine[i][j] == cosine[j][i] for i in range(3) for j in range(3))
    assert [i["steps"] for i in record["intervals"]] == [[0, 4, 8, 12, 16], [20]]  # validated after step 18
    assert [len(g["groups"]) for g in record["groupings"]] == [1, 2]
    assert record["groupings"][0]["groups"] == [TASKS]
    assert (run / "affinity.png").stat().st_size > 10_000
    assert not (run / "checkpoints").exists()  # a measurement keeps no weights
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if any(v for k, v in r.items() if k.startswith("affinity/"))]
    assert [int(r["step"]) for r in rows] == record["steps"]  # every measurement, though logged every 5 steps
    # one task a step (proportional sampling): the tasks not yet seen at step 0 are not measured then
    assert {k for k, v in rows[-1].items() if k.startswith("affinity/") and v} == {
        *(f"affinity/{a}->{b}" for a in TASKS for b in TASKS),
        *(f"affinity/cosine/{a}~{b}" for a, b in PAIRS),
    }
    out = done.stdout
    assert "task affinity over 6 measured steps (0..20)" in out
    assert "suggested groupings" in out and "1 group: {tags, sentiment, topic}  score" in out
    assert "2 groups: {" in out
    assert f"written: {Path('runs/tiny/affinity/version_0/affinity.json')}" in out


def test_fit_with_the_callback_writes_the_matrices_into_its_run(tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path)
    done = mtl(
        "fit", "-c", str(config), "--trainer.max_epochs=1", "--trainer.callbacks+=mtl.callbacks.TaskAffinity",
        "--trainer.callbacks.every_n_steps=6", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    record = json.loads((run / "affinity.json").read_text())
    assert record["tasks"] == TASKS and record["steps"] == [0, 6, 12]
    assert (run / "affinity.png").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
