"""``mtl test|predict --run runs/x/version_N``: a trained run used on its own, its training
files gone. The run's config, checkpoint, label lists and tokenizer come from the run
directory; only the split evaluated is read; the results land in the run."""

from __future__ import annotations

import json
from pathlib import Path

from command import TINY, mtl

from mtl.data.synthetic import write_corpus

SYNTHETIC = "{path: synthetic, train: 400, validation: 40, test: 40, seed: 0}"


def _file_config(directory: Path) -> None:
    """``tiny.yaml`` reading the synthetic corpus from JSON-lines files in ``data/``."""
    write_corpus(directory / "data", train=96, validation=40, test=40)
    files = "{train: data/train.jsonl, validation: data/validation.jsonl, test: data/test.jsonl}"
    text = TINY.read_text()
    assert SYNTHETIC in text
    (directory / "tiny.yaml").write_text(text.replace(SYNTHETIC, f"{{path: json, data_files: {files}}}"))


def test_a_run_tests_and_predicts_without_its_training_files(tmp_path: Path) -> None:
    _file_config(tmp_path)
    fit = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    (best,) = (run / "checkpoints").glob("best-*.ckpt")
    with_files = mtl("test", "-c", "tiny.yaml", "--ckpt_path", str(best), cwd=tmp_path)
    assert with_files.returncode == 0, with_files.stderr[-3000:]
    expected = json.loads((run / "results-test.json").read_text())
    (run / "results-test.json").unlink()

    # the training and validation files and the config file gone; the test file stays
    for name in ("train.jsonl", "validation.jsonl"):
        (tmp_path / "data" / name).unlink()
    (tmp_path / "tiny.yaml").unlink()

    test = mtl("test", "--run", "runs/tiny/version_0", cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    tested = json.loads((run / "results-test.json").read_text())
    assert tested["tasks"] == expected["tasks"]  # the same checkpoint (the best by val/average), the same numbers
    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["version_0"]
    saved = (run / "config-test.yaml").read_text()
    assert (
        "run: runs/tiny/version_0" in saved and f"ckpt_path: {best.relative_to(tmp_path)}" in saved
    )  # what was evaluated, recorded

    (tmp_path / "inputs.txt").write_text("the coach loved the great match .\n")
    predict = mtl("predict", "--run", "runs/tiny/version_0", "--data.predict_file", "inputs.txt", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]
    (record,) = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert record["text"] == "the coach loved the great match ." and len(record["tags"]) == 7
    assert record["sentiment"] in {"positive", "negative", "neutral"} and 0 < record["sentiment_probability"] <= 1


def test_the_run_option_names_what_is_missing(tmp_path: Path) -> None:
    missing = mtl("test", "--run", "runs/none/version_0", cwd=tmp_path)
    assert missing.returncode != 0
    assert "no checkpoint at 'runs/none/version_0'" in missing.stderr and "Traceback" not in missing.stderr

    checkpoints = tmp_path / "runs" / "x" / "version_0" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "last.ckpt").write_bytes(b"")
    no_config = mtl("predict", "--run", "runs/x/version_0", cwd=tmp_path)
    assert no_config.returncode != 0
    assert "config.yaml' does not exist" in no_config.stderr and "--ckpt_path" in no_config.stderr

    fit = mtl("fit", "--run", "runs/x/version_0", cwd=tmp_path)
    assert fit.returncode != 0 and "--run is an option of `mtl validate|test|predict|export`, not of `mtl fit`" in fit.stderr
