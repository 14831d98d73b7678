"""`mtl report`: regenerated from a small saved run, its table holds the run's logged
metrics; rows gather single-task runs and seeds with hand-computed means."""

from __future__ import annotations

import csv
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from command import checkout_env

from mtl.cli import main as mtl
from mtl.report.learning_curves import read_series, smooth
from mtl.report.run_record import ReportError, RunRecord, gather_rows

SAVED = Path(__file__).parent / "saved" / "demo" / "version_0"  # (a folder named runs/ would be git-ignored)


def _table(markdown: str) -> list[dict[str, str]]:
    """The first Markdown table of ``markdown`` as one dict per row."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    rows = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) != len(header) or cells[0] == "row":
            break
        rows.append(dict(zip(header, cells)))
    return rows


def test_report_regenerated_from_a_saved_run_holds_its_logged_metrics(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "demo" / "version_0"
    shutil.copytree(SAVED, run)
    output = tmp_path / "reports" / "demo.md"
    mtl(["report", str(run), "--output", str(output), "--title", "Demo"])
    (row,) = _table(output.read_text())
    with (run / "metrics.csv").open() as f:
        logged = [r for r in csv.DictReader(f) if r.get("val/average")][-1]  # the last validation
    assert row["run"] == "demo" and row["seeds"] == "0"
    for column, key in [("sentiment accuracy", "val/sentiment/accuracy"), ("tags accuracy", "val/tags/accuracy"),
                        ("topic f1", "val/topic/f1"), ("average", "val/average")]:  # fmt: skip
        assert row[column] == f"{float(logged[key]):.4f}", column
    assert int(row["steps"]) == int(logged["step"]) + 1
    results = json.loads((run / "results-fit.json").read_text())
    assert row["minutes"] == f"{results['seconds'] / 60:.1f}"
    for figure in ("primary-metrics.png", "learning-curves.png"):
        assert (output.parent / "demo" / figure).stat().st_size > 10_000, figure
    text = output.read_text()
    assert "![learning-curves](demo/learning-curves.png)" in text and "torch 2." in text
    # the run's resolved config is kept beside the report and linked from its row
    assert "| demo | demo | " in text and "[config.yaml](demo/configs/demo.yaml)" in text
    assert (output.parent / "demo" / "configs" / "demo.yaml").read_text() == (run / "config.yaml").read_text()


def test_learning_curve_series_and_smoothing() -> None:
    series = read_series(SAVED)
    validation = series["val/topic/accuracy"]
    assert [step for step, _ in validation] == sorted(step for step, _ in validation) and len(validation) >= 2
    assert smooth([(0, 1.0), (1, 3.0), (2, 5.0), (3, 7.0)], window=2) == [(0, 1.0), (1, 2.0), (2, 4.0), (3, 6.0)]
    assert read_series(SAVED.parent) == {}  # no metrics.csv: no curves, no error


def _saved(root: Path, name: str, seed: int, tasks: dict[str, float], step: int, seconds: float) -> Path:
    """A finished run as the toolkit leaves it: results-fit.json and config.yaml."""
    run = root / "runs" / name / f"version_{seed}"
    run.mkdir(parents=True)
    results = {"stage": "val", "global_step": step, "seconds": seconds, "average": sum(tasks.values()) / len(tasks),
               "tasks": {t: {"accuracy": v, "loss": 1.0} for t, v in tasks.items()}}  # fmt: skip
    (run / "results-fit.json").write_text(json.dumps(results))
    (run / "config.yaml").write_text(yaml.safe_dump({"seed_everything": seed}))
    return run


def test_rows_gather_single_task_runs_and_their_seeds(tmp_path: Path) -> None:
    runs = []
    for seed, (a, b, joint_a, joint_b) in enumerate([(0.6, 0.8, 0.7, 0.9), (0.8, 0.6, 0.5, 0.7)]):
        runs.append(_saved(tmp_path, "exp/single/a", seed, {"a": a}, step=100, seconds=60))
        runs.append(_saved(tmp_path, "exp/single/b", seed, {"b": b}, step=50, seconds=30))
        runs.append(_saved(tmp_path, "exp/multi", seed, {"a": joint_a, "b": joint_b}, step=150, seconds=120))
    output = tmp_path / "report.md"
    mtl(["report", *map(str, runs), "--output", str(output), "--row", "single-task=exp/single/*"])
    single, multi = _table(output.read_text())
    # single-task: a = mean(0.6, 0.8) = 0.7, std 0.1414; b likewise; per seed the average of
    # a and b is 0.7 both times; steps and minutes add up over a seed's runs (150, 1.5)
    assert single["run"] == "single-task" and single["seeds"] == "0, 1"
    assert single["a accuracy"] == single["b accuracy"] == "0.7000 ± 0.1414"
    assert single["average"] == "0.7000 ± 0.0000"
    assert single["steps"] == "150 ± 0" and single["minutes"] == "1.5 ± 0.0"
    # multi-task: a = mean(0.7, 0.5), b = mean(0.9, 0.7); averages per seed 0.8 and 0.6
    assert multi["run"] == "exp/multi"
    assert multi["a accuracy"] == "0.6000 ± 0.1414" and multi["b accuracy"] == "0.8000 ± 0.1414"
    assert multi["average"] == "0.7000 ± 0.1414"
    # the same numbers as JSON beside the report
    data = json.loads(output.with_suffix(".json").read_text())
    rows = {row["row"]: row for row in data["rows"]}
    assert rows["single-task"]["metrics"]["a accuracy"]["values"] == [0.6, 0.8]
    assert rows["single-task"]["metrics"]["a accuracy"]["mean"] == pytest.approx(0.7)
    assert rows["single-task"]["metrics"]["a accuracy"]["std"] == pytest.approx(0.1414, abs=1e-4)
    assert rows["exp/multi"]["average"]["values"] == pytest.approx([0.8, 0.6]) and rows["exp/multi"]["seeds"] == [0, 1]
    assert rows["single-task"]["steps"]["values"] == [150.0, 150.0] and len(data["runs"]) == 6


def test_row_rules_that_are_malformed_or_match_nothing_are_refused(tmp_path: Path) -> None:
    records = [RunRecord.load(_saved(tmp_path, "exp/multi", 0, {"a": 0.5}, 10, 1.0))]
    with pytest.raises(ReportError, match="expected LABEL=PATTERN"):
        gather_rows(records, ["single-task"])
    with pytest.raises(ReportError, match=r"matches none of the runs \(exp/multi\)"):
        gather_rows(records, ["single-task=exp/single/*"])
    gather_rows(records, ["everything=exp/*"])
    assert records[0].row == "everything" and records[0].name == "exp/multi"


def test_rows_come_in_the_order_of_their_rules(tmp_path: Path) -> None:
    names = ["exp/a", "exp/b", "exp/c", "exp/d"]
    records = [RunRecord.load(_saved(tmp_path, name, 0, {"t": 0.5}, 10, 1.0)) for name in names]
    gather_rows(records, ["D=exp/d", "AB=exp/[ab]"])
    assert [(r.row, r.name) for r in records] == [("D", "exp/d"), ("AB", "exp/a"), ("AB", "exp/b"), ("exp/c", "exp/c")]


def test_select_best_reads_the_best_validation_of_the_saved_run(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "demo" / "version_0"
    shutil.copytree(SAVED, run)
    output = tmp_path / "best.md"
    mtl(["report", str(run), "--output", str(output), "--select", "best"])
    (row,) = _table(output.read_text())
    with (run / "metrics.csv").open() as f:
        validations = [r for r in csv.DictReader(f) if r.get("val/average")]
    best = max(validations, key=lambda r: float(r["val/average"]))
    assert row["average"] == f"{float(best['val/average']):.4f}" and row["steps"] == str(int(best["step"]) + 1)
    assert row["sentiment accuracy"] == f"{float(best['val/sentiment/accuracy']):.4f}"
    assert "## Results (best val)" in output.read_text()
    with pytest.raises(SystemExit, match="--select best reads the validations logged during fit"):
        mtl(["report", str(run), "--output", str(output), "--select", "best", "--stage", "test"])


def _tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of ``markdown``, each as one dict per row."""
    tables, lines = [], markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and (i == 0 or not lines[i - 1].startswith("|")):
            header = [c.strip() for c in line.split("|")[1:-1]]
            rows = []
            for body in lines[i + 2 :]:
                if not body.startswith("|"):
                    break
                rows.append(dict(zip(header, [c.strip() for c in body.split("|")[1:-1]])))
            tables.append(rows)
    return tables


def test_yardstick_sets_published_numbers_beside_the_rows(tmp_path: Path) -> None:
    runs = [
        _saved(tmp_path, "exp/multi", seed, {"a": a, "b": b}, 10, 6.0) for seed, (a, b) in enumerate([(0.6, 0.9), (0.8, 0.7)])
    ]
    yardstick = tmp_path / "published.yaml"
    yardstick.write_text(
        "source: Some paper, dev\nrows:\n  paper: {a accuracy: 0.75, b accuracy: 0.8}\n  weak: {a accuracy: 0.1}\n"
    )
    output = tmp_path / "report.md"
    mtl(["report", *map(str, runs), "--output", str(output), "--yardstick", str(yardstick)])
    text = output.read_text()
    assert "## Against published numbers" in text and "Published: Some paper, dev." in text
    published = next(t for t in _tables(text) if t[0].get("row") == "paper (published)")
    paper, weak, ours = published
    assert paper["a accuracy"] == "0.7500" and paper["b accuracy"] == "0.8000" and weak["b accuracy"] == ""
    # ours: a = mean(0.6, 0.8) = 0.7 < 0.75, b = mean(0.9, 0.7) = 0.8 >= 0.8; a >= 0.1
    assert ours["row"] == "exp/multi" and ours["a accuracy"] == "0.7000" and ours["b accuracy"] == "0.8000"
    assert ours["reaches paper"] == "1/2" and ours["reaches weak"] == "1/1"
    published_json = json.loads(output.with_suffix(".json").read_text())["published"]
    assert published_json == {
        "source": "Some paper, dev",
        "rows": {"paper": {"a accuracy": 0.75, "b accuracy": 0.8}, "weak": {"a accuracy": 0.1}},
    }

    yardstick.write_text("rows:\n  paper: {a accuracy: 0.5, c accuracy: 0.5}\n")
    mtl(["report", *map(str, runs), "--output", str(output), "--yardstick", str(yardstick)])
    assert "Published numbers of tasks no run here has: c accuracy." in output.read_text()
    yardstick.write_text("rows:\n  paper: {c accuracy: 0.5}\n")
    with pytest.raises(SystemExit, match=r"no run logs any of \['c accuracy'\]"):
        mtl(["report", *map(str, runs), "--output", str(tmp_path / "x.md"), "--yardstick", str(yardstick)])
    yardstick.write_text("rows:\n  paper: {accuracy: 0.5}\n")
    with pytest.raises(SystemExit, match="write '<task> <metric>: <number>'"):
        mtl(["report", *map(str, runs), "--output", str(tmp_path / "x.md"), "--yardstick", str(yardstick)])
    assert not (tmp_path / "x.md").exists()


def test_mtl_report_command_with_globs_and_a_row_rule(tmp_path: Path) -> None:
    """The README's `mtl report runs/glue/version_* runs/glue/*/version_* --row 'single-task=glue/*'`,
    typed into a shell (the shell expands the globs)."""
    for seed, (a, b, joint_a, joint_b) in enumerate([(0.6, 0.8, 0.7, 0.9), (0.8, 0.6, 0.5, 0.7)]):
        _saved(tmp_path, "glue/a", seed, {"a": a}, step=100, seconds=60)
        _saved(tmp_path, "glue/b", seed, {"b": b}, step=50, seconds=30)
        _saved(tmp_path, "glue", seed, {"a": joint_a, "b": joint_b}, step=150, seconds=120)
    line = "runs/glue/version_* runs/glue/*/version_* --output reports/y.md --title 'GLUE' --row 'single-task=glue/*'"
    done = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m mtl report {line}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=checkout_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    single, multi = _table((tmp_path / "reports" / "y.md").read_text())  # rows of --row rules first
    assert multi["run"] == "glue" and multi["a accuracy"] == "0.6000 ± 0.1414" and multi["average"] == "0.7000 ± 0.1414"
    assert single["run"] == "single-task" and single["a accuracy"] == single["b accuracy"] == "0.7000 ± 0.1414"


@pytest.mark.parametrize(("which", "copied"), [("all", 2), ("first", 1), ("none", 0)])
def test_run_figures_all_first_of_each_row_or_none(tmp_path: Path, which: str, copied: int) -> None:
    runs = [_saved(tmp_path, f"grid/pcgrad/seed{seed}", seed, {"a": 0.5, "b": 0.6}, step=10, seconds=6) for seed in (0, 1)]
    for run in runs:
        (run / "task_weights.png").write_bytes(b"\x89PNG " + run.parent.name.encode())
    output = tmp_path / "report.md"
    mtl(["report", *map(str, runs), "--output", str(output), "--row", "pcgrad=grid/pcgrad/*", "--run_figures", which])
    figures = sorted(p.name for p in (tmp_path / "report").glob("*task_weights.png"))
    assert len(figures) == copied
    assert output.read_text().count("task_weights](") == copied
    if which == "first":  # the row's first run (seed 0)
        assert (tmp_path / "report" / figures[0]).read_bytes() == (runs[0] / "task_weights.png").read_bytes()
