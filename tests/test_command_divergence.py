"""A diverged run does not report success: ``mtl fit`` exits non-zero with one line on
what went NaN, when, and what to try; its results are strict JSON (null for NaN), its
table shows nan, and no NaN model becomes the best checkpoint."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import lightning as L
import pytest
import torch
from command import TINY, mtl

from mtl.callbacks.checkpoint import RunCheckpoint
from mtl.callbacks.results_table import ResultsTable, markdown_table
from mtl.report.run_record import RunRecord

QUICK = ["--trainer.logger=false", "--trainer.limit_val_batches=2", "--model.lr=1e6"]  # lr 1e6: NaN from step 10 or so


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


def test_a_run_that_ends_nan_fails_with_one_line_and_honest_results(tmp_path: Path) -> None:
    done = mtl(
        "fit", "-c", str(TINY), *QUICK, "--trainer.max_epochs=3", "--trainer.limit_train_batches=6",
        "--model.max_nonfinite_steps=100", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    line = _error_line(done.stderr)
    assert re.search(
        r"the run diverged: val/\w+/loss.* NaN or infinite at step 18 \(training losses NaN or infinite since step \d+\)", line
    ), line
    assert "model.lr" in line and "--trainer.gradient_clip_val" in line
    run = tmp_path / "runs"
    results = _strict((run / "results-fit.json").read_text())
    assert results["average"] is None  # not a made-up 0.0
    assert any(values["loss"] is None for values in results["tasks"].values())
    assert "| nan |" in (run / "results-fit.md").read_text() and "| nan |" in done.stdout
    # no NaN model is "best": a best checkpoint, if any, is from before the divergence
    best = sorted((run / "checkpoints").glob("best-*.ckpt"))
    assert all("step=18" not in p.name for p in best)
    if best:
        assert f"--ckpt_path {best[0].relative_to(tmp_path)}" in line
        state = torch.load(best[0], map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    else:
        assert "no checkpoint with finite validation metrics" in line
    report = mtl("report", str(run), "--output", str(tmp_path / "report.md"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]


def test_a_run_stopped_by_nan_losses_fails_with_one_line(tmp_path: Path) -> None:
    done = mtl(
        "fit", "-c", str(TINY), *QUICK, "--model.max_nonfinite_steps=3", "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=30", "--trainer.enable_checkpointing=false",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    line = _error_line(done.stderr)
    assert re.search(r"NaN or infinite loss from tasks \[.+\] for 3 steps in a row, since step \d+; training stopped", line), line
    assert "model.lr" in line and "--ckpt_path" in line


def test_results_are_strict_json_and_the_table_shows_nan(tmp_path: Path) -> None:
    metrics = {"val/a/accuracy": torch.tensor(0.5), "val/a/loss": torch.tensor(math.nan), "val/average": torch.tensor(math.nan)}

    trainer = L.Trainer(default_root_dir=tmp_path, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.callback_metrics.update(metrics)  # as a validation that ended NaN leaves them
    ResultsTable()._write(trainer, "val", "fit")
    results = _strict((tmp_path / "results-fit.json").read_text())
    assert results["average"] is None and results["tasks"] == {"a": {"accuracy": 0.5, "loss": None}}
    assert markdown_table({"a": {"accuracy": 0.5, "loss": math.nan}}).splitlines()[-1] == "| a | 0.5000 | nan |"
    record = RunRecord.load(tmp_path)  # the report reads nulls as NaN
    assert math.isnan(record.average) and math.isnan(record.tasks["a"]["loss"])


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
def test_a_nonfinite_score_is_never_ranked_best(score: float, tmp_path: Path) -> None:
    callback = RunCheckpoint(dirpath=tmp_path, monitor="val/average", mode="max")
    assert not callback.check_monitor_top_k(None, torch.tensor(score))  # even with no best yet
    assert callback.check_monitor_top_k(None, torch.tensor(0.5))
