"""Early stopping and per-task best checkpoints, as the README declares them in a config."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
import yaml
from command import mtl, small_tiny_config


def test_early_stopping_and_a_best_checkpoint_per_task(tmp_path: Path) -> None:
    config = yaml.safe_load(small_tiny_config(tmp_path).read_text())
    config["trainer"]["max_epochs"] = 8
    config["trainer"]["callbacks"] = [
        {"class_path": "EarlyStopping", "init_args": {"monitor": "val/average", "mode": "max", "patience": 2, "min_delta": 0.5}},
        {
            "class_path": "ModelCheckpoint",
            "init_args": {"monitor": "val/topic/accuracy", "mode": "max", "filename": "best-topic-{epoch}-{step}"},
        },
    ]
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    fit = mtl("fit", "-c", "tiny.yaml", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    rows = [r for r in csv.DictReader((run / "metrics.csv").read_text().splitlines()) if r.get("val/average")]
    assert len(rows) == 3  # no validation rises by 0.5 over the first: stopped after patience 2, not at 8 epochs
    (topic_best,) = (run / "checkpoints").glob("best-topic-*.ckpt")
    best = max(rows, key=lambda r: float(r["val/topic/accuracy"]))  # the first of equals, as ModelCheckpoint keeps it
    saved = torch.load(topic_best, weights_only=True)
    assert topic_best.name == f"best-topic-epoch={best['epoch']}-step={saved['global_step']}.ckpt"
    assert saved["epoch"] == int(best["epoch"])
    assert len(list((run / "checkpoints").glob("best-epoch=*.ckpt"))) == 1 and (run / "checkpoints" / "last.ckpt").is_file()
