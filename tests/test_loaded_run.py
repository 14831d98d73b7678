"""``mtl.load_run(path).predict([...])``: a trained run used from Python gives what ``mtl
predict`` gives, from the run directory alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from command import mtl, small_tiny_config

import mtl as toolkit
from mtl.data.errors import DataError

INPUTS = ["the coach loved the great match .", "i never liked this terrible phone .", ""]


def test_a_loaded_run_predicts_what_mtl_predict_writes(tmp_path: Path) -> None:
    small_tiny_config(tmp_path)
    fit = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=2", "--trainer.logger=false", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs"
    (tmp_path / "inputs.txt").write_text("\n".join(INPUTS[:2]) + "\n")
    ckpt = run / "checkpoints" / "last.ckpt"
    done = mtl("predict", "-c", "tiny.yaml", "--ckpt_path", str(ckpt), "--trainer.logger=false", "--data.predict_file", "inputs.txt",
               "--predictions.output", "out.jsonl", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    expected = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]

    moved = tmp_path / "elsewhere"  # the run alone: no config, no data, another folder
    shutil.copytree(run, moved)
    loaded = toolkit.load_run(moved / "checkpoints" / "last.ckpt")
    got = loaded.predict(INPUTS)
    assert [{k: v for k, v in r.items() if k != "index"} for r in expected] == got[:2]
    assert got[2]["note"] == "blank input: no prediction" and got[2]["topic"] is None
    assert set(loaded.task_labels) == {"tags", "sentiment", "topic"}
    words = loaded.predict([["the", "coach", "loved", "the", "great", "match", "."]])
    assert words[0]["tags"] == got[0]["tags"]  # pre-split words as given

    (moved / "tokenizer.json").unlink()
    with pytest.raises(DataError, match="tokenizer"):
        toolkit.load_run(moved / "checkpoints" / "last.ckpt")
    with pytest.raises(DataError, match="no checkpoint at"):
        toolkit.load_run(tmp_path / "nothing-here")
