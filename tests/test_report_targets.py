"""The report targets end to end on a tiny budget (the full runs are committed as reports):
`make glue-report` runs its grid of single- and multi-task runs, skips what is finished, and
writes a report whose rows gather the runs they should."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = "--trainer.max_steps=3 --trainer.limit_val_batches=2 --trainer.val_check_interval=1 --trainer.max_epochs=1"


def results_table(report: str) -> dict[str, dict[str, str]]:
    """The report's first table (the results), row label -> column -> cell."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| run |"))
    header = [c.strip() for c in lines[start].split("|")[1:-1]]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.split("|")[1:-1]]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def workspace(tmp_path: Path) -> Path:
    """A folder that looks like the project to make (its own runs/ and reports/)."""
    for name in ("Makefile", "experiments", ".venv", "pyproject.toml", "constraints.txt", "requirements.lock"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def make(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"MTL_CACHE": str(cwd / "cache")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


def test_glue_report_grid_and_document(shared_data: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    cwd = workspace(tmp_path)
    grid = [
        f"DATA={shared_data}", "GLUE_REPORT_ENCODERS=lstm", "GLUE_REPORT_SEEDS_lstm=0 1",
        "GLUE_REPORT_TASKS=rte mrpc", "GLUE_REPORT_BALANCERS=sum", f"EXTRA_ARGS={TINY}", "GLUE_REPORT_OUTPUT=reports/glue.md",
        "GLUE_REPORT_PRETRAINED=lstm", "GLUE_REPORT_PRETRAINED_SEEDS=0", "GLUE_REPORT_GLOVE=",
    ]  # fmt: skip
    done = make(cwd, "glue-report", *grid)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = cwd / "runs" / "glue_report"
    assert sorted(p.relative_to(runs).as_posix() for p in runs.glob("*/*/seed*")) + sorted(
        p.relative_to(runs).as_posix() for p in runs.glob("*/*/*/seed*")
    ) == [
        "lstm/sum/seed0", "lstm/sum/seed1",
        "lstm/pretrained/mrpc/seed0", "lstm/pretrained/rte/seed0",
        "lstm/single/mrpc/seed0", "lstm/single/mrpc/seed1", "lstm/single/rte/seed0", "lstm/single/rte/seed1",
    ]  # fmt: skip
    # the pre-trained runs start from the pre-training the target ran first
    assert (cwd / "runs" / "glue_dae" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    config = yaml.safe_load(next((runs / "lstm" / "pretrained" / "rte" / "seed0").glob("version_*/config.yaml")).read_text())
    assert config["model"]["transfer"]["checkpoint"].endswith("glue_dae/version_0/checkpoints/last.ckpt")
    assert config["data"]["steps_per_epoch"] == 130  # RTE's share of the multi-task steps
    # a second call finds every run finished and only rewrites the report
    again = make(cwd, "glue-report", *grid)
    assert again.returncode == 0 and again.stdout.count("done already") == 8 and "start:" not in again.stdout

    report = (cwd / "reports" / "glue.md").read_text()
    rows = results_table(report)
    assert set(rows) == {"lstm single-task", "lstm multi-task sum", "lstm single-task, pre-trained"}
    assert "| GLUE paper multi-task BiLSTM (published) | 0.1860 | 0.8230 |" in report
    cell = rows["lstm single-task"]
    assert cell["seeds"] == "0, 1" and cell["sst2 accuracy"] == ""  # single-task runs of RTE and MRPC only
    # the single-task RTE cell is the mean of the two seeds' best validations
    best = []
    for seed in (0, 1):
        (version,) = (runs / "lstm" / "single" / "rte" / f"seed{seed}").glob("version_*")
        with (version / "metrics.csv").open() as f:
            validations = [r for r in csv.DictReader(f) if r.get("val/average")]
        best.append(float(max(validations, key=lambda r: float(r["val/average"]))["val/rte/accuracy"]))
    assert cell["rte accuracy"].startswith(f"{sum(best) / 2:.4f}")
    assert (cwd / "reports" / "glue" / "learning-curves.png").stat().st_size > 10_000
    # the runs' own plots, of weights that change only: Sum's (and a single task's) are constant
    copied = sorted(p.name for p in (cwd / "reports" / "glue").glob("glue_report-*.png"))
    assert not [n for n in copied if "task_weights" in n]


def test_ud_report_tests_each_runs_best_checkpoint(shared_data: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    cwd = workspace(tmp_path)
    args = [
        f"DATA={shared_data}",
        "UD_REPORT_RUNS=joint single/upos spelling/upos",
        f"EXTRA_ARGS={TINY} --trainer.limit_test_batches=2",
    ]
    done = make(cwd, "ud-report", *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (cwd / "reports" / "ud_ewt.md").read_text()
    assert "## Results (test)" in report
    rows = results_table(report)
    joint, single = rows["multi-task (joint)"], rows["single-task"]
    assert all(joint[f"{t} accuracy"] for t in ("upos", "xpos", "feats", "deprel"))
    assert single["upos accuracy"] and not single["xpos accuracy"]  # the single run had UPOS only
    spelling = rows["single-task + word spelling"]
    assert spelling["upos accuracy"] and not spelling["xpos accuracy"]
    config = yaml.safe_load(
        next((cwd / "runs" / "ud_report" / "spelling" / "upos" / "seed0").glob("version_*/config.yaml")).read_text()
    )
    assert config["model"]["heads"]["upos"]["init_args"]["word_features"] == 48
    (version,) = (cwd / "runs" / "ud_report" / "single" / "upos" / "seed0").glob("version_*")
    tested = json.loads((version / "results-test.json").read_text())["tasks"]["upos"]["accuracy"]
    assert single["upos accuracy"] == f"{tested:.4f}"


def test_nsmc_report_trains_when_absent_and_reports_the_run(shared_data: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    cwd = workspace(tmp_path)
    done = make(cwd, "nsmc-report", f"DATA={shared_data}", f"EXTRA_ARGS={TINY}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (version,) = (cwd / "runs" / "nsmc").glob("version_*")
    logged = json.loads((version / "results-fit.json").read_text())["tasks"]["nsmc"]["accuracy"]
    row = results_table((cwd / "reports" / "nsmc.md").read_text())
    (cells,) = row.values()
    assert cells["nsmc accuracy"] == f"{logged:.4f}"


def test_glue_balancers_tunes_sums_learning_rate_then_runs_every_balancer_at_it(shared_data: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    cwd = workspace(tmp_path)
    grid = [
        f"DATA={shared_data}", "GLUE_BALANCERS=sum pcgrad", "GLUE_BALANCERS_SEEDS=0 1", "GLUE_BALANCERS_LRS=0.0001 0.01",
        "GLUE_BALANCERS_TUNED=tuned.yaml", "GLUE_BALANCERS_OUTPUT=reports/glue_balancers.md",
        f"EXTRA_ARGS={TINY}",
    ]  # fmt: skip
    done = make(cwd, "glue-balancers", *grid)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = cwd / "runs" / "glue_balancers"
    assert sorted(p.relative_to(runs).as_posix() for p in runs.glob("**/seed*")) == [
        "lr/0.0001/seed0", "lr/0.01/seed0", "pcgrad/seed0", "pcgrad/seed1", "sum/seed0", "sum/seed1",
    ]  # fmt: skip
    # the tuned rate is the tuning run with the best val/average; every balancer run trains at it
    best = {}
    for lr in ("0.0001", "0.01"):
        (version,) = (runs / "lr" / lr / "seed0").glob("version_*")
        with (version / "metrics.csv").open() as f:
            best[float(lr)] = max(float(r["val/average"]) for r in csv.DictReader(f) if r.get("val/average"))
    chosen = max(best, key=best.get)
    assert yaml.safe_load((cwd / "tuned.yaml").read_text()) == {"model": {"lr": chosen}}
    for run in ("pcgrad/seed0", "pcgrad/seed1"):
        config = yaml.safe_load(next((runs / run).glob("version_*/config.yaml")).read_text())
        assert config["model"]["lr"] == chosen and config["seed_everything"] == int(run[-1])
    assert "mtl.balancers.PCGrad" in next((runs / "pcgrad" / "seed0").glob("version_*/config.yaml")).read_text()
    report = (cwd / "reports" / "glue_balancers.md").read_text()
    rows = results_table(report)
    assert set(rows) == {"sum", "pcgrad"} and rows["pcgrad"]["seeds"] == "0, 1"
    # the paired table: PCGrad's average minus Sum's of the same seed, over both seeds
    averages = {}
    for name in ("sum", "pcgrad"):
        for seed in (0, 1):
            (version,) = (runs / name / f"seed{seed}").glob("version_*")
            with (version / "metrics.csv").open() as f:
                averages[name, seed] = max(float(r["val/average"]) for r in csv.DictReader(f) if r.get("val/average"))
    paired = [averages["pcgrad", s] - averages["sum", s] for s in (0, 1)]
    line = next(line for line in report.splitlines() if line.startswith("| pcgrad |") and "of 2" in line)
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[2].startswith(f"{sum(paired) / 2:+.4f} ± ") and cells[3] == f"{sum(d > 0 for d in paired)} of 2"


def test_glue_affinity_measures_groups_then_trains_each_group_against_all_five(shared_data: Path, tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("needs the project's .venv (make setup)")
    cwd = workspace(tmp_path)
    (cwd / "tuned.yaml").write_text("model:\n  lr: 0.004\n")
    done = make(
        cwd, "glue-affinity", f"DATA={shared_data}", "GLUE_BALANCERS_TUNED=tuned.yaml", "GLUE_AFFINITY_SEEDS=0",
        "GLUE_AFFINITY_STEPS=4", "GLUE_AFFINITY_EVERY=1", f"EXTRA_ARGS={TINY.replace('max_steps=3', 'max_steps=4')}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (affinity,) = (cwd / "runs" / "glue_affinity" / "affinity").glob("version_*")
    summary = json.loads((affinity / "affinity.json").read_text())
    assert len(summary["steps"]) >= 2 and len(summary["tasks"]) == 5
    # the groups trained are the best partition into two that affinity.json holds
    (two,) = [g["groups"] for g in summary["groupings"] if len(g["groups"]) == 2]
    groups = [line.split() for line in (cwd / "runs" / "glue_affinity" / "groups.txt").read_text().splitlines()]
    assert groups == two and sorted(t for g in groups for t in g) == sorted(summary["tasks"])
    for group in groups:
        (version,) = (cwd / "runs" / "glue_affinity" / "+".join(group) / "seed0").glob("version_*")
        config = yaml.safe_load((version / "config.yaml").read_text())
        assert config["tasks"] == group and config["model"]["lr"] == 0.004
        assert set(json.loads((version / "results-fit.json").read_text())["tasks"]) == set(group)
    assert (cwd / "runs" / "glue_balancers" / "sum" / "seed0").is_dir()  # all five together: the grid's Sum run
    report = (cwd / "reports" / "glue_affinity.md").read_text()
    rows = results_table(report)
    assert set(rows) == {"all five together", *("+".join(g) for g in groups)}
    assert "![affinity](glue_affinity/affinity.png)" in report and (cwd / "reports" / "glue_affinity" / "affinity.png").is_file()
    comparison = report[report.index("## The suggested groups against all five together") :]
    assert sum(f"| {task} |" in comparison for task in summary["tasks"]) == 5
