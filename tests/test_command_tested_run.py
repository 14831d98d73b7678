"""``mtl test`` and ``mtl predict`` of a run's checkpoint write into that run's directory,
beside its training files, which they leave as they are; no second run folder appears."""

from __future__ import annotations

import json
from pathlib import Path

from command import mtl, small_tiny_config


def test_test_and_predict_land_in_the_tested_run(tmp_path: Path) -> None:
    small_tiny_config(tmp_path)
    fit = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    training_files = {
        name: (run / name).read_bytes() for name in ("config.yaml", "metrics.csv", "hparams.yaml", "results-fit.json")
    }
    ckpt = "runs/tiny/version_0/checkpoints/last.ckpt"

    test = mtl("test", "-c", "tiny.yaml", "--ckpt_path", ckpt, cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    (tmp_path / "inputs.txt").write_text("the coach loved the great match .\n")
    predict = mtl("predict", "-c", "tiny.yaml", "--ckpt_path", ckpt, "--data.predict_file", "inputs.txt", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]

    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["version_0"]
    assert {name: (run / name).read_bytes() for name in training_files} == training_files
    record = json.loads((run / "results-test.json").read_text())
    assert record["stage"] == "test" and set(record["tasks"]) == {"tags", "sentiment", "topic"}
    assert "test/average" in (run / "metrics-test.csv").read_text().splitlines()[0]
    assert (run / "config-test.yaml").is_file() and (run / "config-predict.yaml").is_file()
    (prediction,) = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert prediction["text"] == "the coach loved the great match ." and len(prediction["tags"]) == 7
