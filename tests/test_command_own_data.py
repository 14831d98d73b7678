"""Bringing one's own data by config alone, through ``mtl fit``: a nested-label JSON pair
regression task with its validation carved from the training file, and a run without any
validation split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from command import mtl

ROWS = 400


def sts_as_nested_json(shared_data: Path, path: Path) -> None:
    """STS-B's first training pairs as a benchmark export writes them: labels nested."""
    with (shared_data / "glue" / "STS-B" / "train.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[:ROWS]
    with path.open("w", encoding="utf-8") as out:
        for r in rows:
            score = float(r["score"])
            labels = {"label": score, "real-label": round(score, 3), "binary-label": int(score >= 2.5)}
            out.write(json.dumps({"sentence1": r["sentence1"], "sentence2": r["sentence2"], "labels": labels}) + "\n")


def config(task: dict) -> dict:
    return {
        "seed_everything": 0,
        "trainer": {"max_epochs": 3, "log_every_n_steps": 5, "enable_progress_bar": False, "deterministic": True},
        "model": {
            "encoder": {"class_path": "mtl.encoders.LSTMEncoder", "init_args": {"embed_dim": 32, "hidden_dim": 32}},
            "lr": 0.01,
        },
        "data": {"batch_size": 16, "tokenizer": {"kind": "wordpiece", "vocab_size": 600, "min_frequency": 1}, "tasks": [task]},
    }


def sts_task(splits: dict[str, str]) -> dict:
    return {
        "name": "sts",
        "head": {"class_path": "mtl.heads.RegressionHead", "init_args": {"pooling": "pair"}},
        "source": {"path": "json", "data_files": "sts.jsonl"},
        "text": "sentence1",
        "text_pair": "sentence2",
        "label": "labels.label",
        "splits": splits,
        "shuffle_seed": 3,
    }


def test_nested_label_json_pairs_train_with_a_validation_slice(tmp_path: Path, shared_data: Path) -> None:
    sts_as_nested_json(shared_data, tmp_path / "sts.jsonl")
    (tmp_path / "sts.yaml").write_text(yaml.safe_dump(config(sts_task({"train": "train[:90%]", "validation": "train[90%:]"}))))
    fit = mtl("fit", "-c", "sts.yaml", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "sts" / "version_0"
    results = json.loads((run / "results-fit.json").read_text())
    logged = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    validations = [r for r in logged if r.get("val/sts/loss")]
    assert len(validations) == 3  # one per epoch, on the 40 rows of train[90%:]
    losses = [float(r["train/loss_step"]) for r in logged if r.get("train/loss_step")]
    assert losses[-1] < losses[0]  # labels read from labels.label: the regression learns (MSE from ~10 down)
    scores = results["tasks"]["sts"]
    assert -1.0 <= scores["pearson"] <= 1.0 and 0.0 < scores["loss"] < 10.0  # MSE on the 0..5 scale of labels.label


def test_a_run_without_validation_turns_the_monitor_off_once_and_keeps_its_weights(tmp_path: Path, shared_data: Path) -> None:
    sts_as_nested_json(shared_data, tmp_path / "sts.jsonl")
    (tmp_path / "sts.yaml").write_text(yaml.safe_dump(config(sts_task({"train": "train[:200]"}))))
    fit = mtl("fit", "-c", "sts.yaml", "--trainer.max_epochs=2", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert fit.stderr.count("no task has a validation split: checkpoints are not ranked by val/average") == 1
    assert "could not find the monitored key" not in fit.stderr + fit.stdout
    checkpoints = tmp_path / "runs" / "sts" / "version_0" / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    assert [p.name for p in checkpoints.glob("best-*.ckpt")] == ["best-epoch=1-step=26.ckpt"]  # 200 rows / 16 = 13 steps an epoch
