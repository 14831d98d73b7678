"""Two tasks over one JSON-lines file (an input group), half of whose rows lack the second
task's label: each task trains and is scored on its own labelled rows, the other rows still
train the first task, in both gradient modes of a gradient balancer."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml
from command import mtl
from test_command_own_data import config as own_data_config

COLOURS, ANIMALS = ["red", "blue"], ["cat", "dog", "owl"]


def rows(count: int) -> list[dict]:
    """``topic`` always labelled; ``mood`` labelled on even rows only, missing as ``null``
    or as the declared ``missing_value`` ``-`` on odd rows."""
    out = []
    for i in range(count):
        colour, animal = COLOURS[(i // 2) % 2], ANIMALS[i % 3]
        mood = ("happy" if colour == "red" else "sad") if i % 2 == 0 else (None if i % 4 == 1 else "-")
        out.append({"text": f"the {colour} {animal} sat here", "topic": animal, "mood": mood})
    return out


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def task(name: str, label: str) -> dict:
    return {
        "name": name,
        "head": {"class_path": "mtl.heads.ClassificationHead", "init_args": {"dropout": 0.0}},
        "source": {"path": "json", "data_files": {"train": "train.jsonl", "validation": "dev.jsonl"}},
        "label": label,
        "missing_value": "-",
        "max_length": 16,
    }


def config(gradient_mode: str, balancer: str = "MGDA") -> dict:
    """The two tasks in steps of 4 rows that read both (``sampling: all``), balanced by
    ``balancer`` (a gradient balancer reading the gradients of ``gradient_mode``, or a loss
    weighting)."""
    run = own_data_config(task("topic", "topic"))
    run["data"]["tasks"].append(task("mood", "mood"))
    run["data"].update(batch_size=4, sampling="all")
    run["trainer"].update(max_epochs=2, log_every_n_steps=1, enable_model_summary=False)
    run["model"].update(balancer={"class_path": f"mtl.balancers.{balancer}"}, gradient_mode=gradient_mode)
    return run


@pytest.mark.parametrize(
    ("gradient_mode", "balancer"),
    [
        ("parameters", "MGDA"),
        ("representation", "MGDA"),
        ("parameters", "UncertaintyWeighting"),
        ("parameters", "GeometricMean"),  # a log of each loss: a task without labels sits the step out
        ("parameters", "FAMO"),
    ],
)
def test_each_task_trains_and_is_scored_on_its_labelled_rows(tmp_path: Path, gradient_mode: str, balancer: str) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(40))
    dev = rows(12)
    write_jsonl(tmp_path / "dev.jsonl", dev)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config(gradient_mode, balancer)))
    fit = mtl("fit", "-c", "run.yaml", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    # (1) the rows each task reads: every row for topic, the 20 of 40 (6 of 12) labelled for mood
    assert (
        "task 'mood': 20 of 40 rows of split 'train' (from train.jsonl) have no label in column 'mood'; "
        "they are left out of this task's loss and metrics (20 rows labelled)"
    ) in fit.stderr
    assert "task 'mood': 6 of 12 rows of split 'validation' (from dev.jsonl)" in fit.stderr
    assert "task 'topic'" not in fit.stderr and "skipped" not in fit.stderr
    run = tmp_path / "runs" / "run" / "version_0"
    logged = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    steps = [r for r in logged if r.get("train/mood/loss_step")]
    assert len(steps) == 20  # 40 rows / 4 a step, two epochs: no step skipped
    keys = ("train/topic/loss_step", "train/mood/loss_step", "grad/cosine/topic~mood")  # (no cosine for a weighting)
    assert all(math.isfinite(float(r[key])) for r in steps for key in keys if r.get(key))
    assert balancer != "MGDA" or all(r["grad/cosine/topic~mood"] for r in steps)  # the Gram matrix, every step
    # (this seed's plan has a step whose 4 rows lack a mood label: MGDA saw a zero gradient row)
    assert any(float(r["train/mood/loss_step"]) == 0.0 and float(r["train/topic/loss_step"]) > 0 for r in steps)
    if balancer != "MGDA":  # a weighting never sees a task without labels: no weight of mood at such a step
        unlabelled = [r for r in steps if float(r["train/mood/loss_step"]) == 0.0]
        assert unlabelled and not any(r.get("train/mood/weight") for r in unlabelled)
        assert all(r.get("train/mood/weight") for r in steps if float(r["train/mood/loss_step"]) > 0.0)

    if (gradient_mode, balancer) != ("parameters", "MGDA"):
        return  # the scores below read the data as the other mode does
    # (2) the validation metrics are those of the predictions on the labelled rows only
    ckpt = "runs/run/version_0/checkpoints/last.ckpt"
    validate = mtl("validate", "-c", "run.yaml", "--ckpt_path", ckpt, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    scores = json.loads((run / "results-validate.json").read_text())["tasks"]
    predict = mtl("predict", "-c", "run.yaml", "--ckpt_path", ckpt, "--data.predict_file", "dev.jsonl", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]
    predicted = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(predicted) == 12
    labelled = [(p["mood"], r["mood"]) for p, r in zip(predicted, dev) if r["mood"] not in (None, "-")]
    assert len(labelled) == 6
    assert scores["mood"]["accuracy"] == pytest.approx(sum(p == t for p, t in labelled) / 6, abs=1e-6)
    topics = [(p["topic"], r["topic"]) for p, r in zip(predicted, dev)]
    assert scores["topic"]["accuracy"] == pytest.approx(sum(p == t for p, t in topics) / 12, abs=1e-6)
