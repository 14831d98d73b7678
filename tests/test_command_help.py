"""``mtl --help`` and each subcommand's ``--help``: one parser lists every subcommand with a
line saying what it does, and the options of ``report`` and ``advise`` with their meaning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from command import checkout_env, mtl

SUBCOMMANDS = ["fit", "validate", "test", "predict", "report", "advise", "export", "affinity"]


def test_help_lists_every_subcommand_with_what_it_does(tmp_path: Path) -> None:
    done = mtl("--help", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "{" + ",".join(SUBCOMMANDS) + "}" in done.stdout
    listed = re.findall(r"^ {4}(\w+) +(\w.*)$", done.stdout, flags=re.MULTILINE)
    assert [name for name, _ in listed] == SUBCOMMANDS, done.stdout
    assert dict(listed)["report"].startswith("Compare finished runs") and dict(listed)["advise"].startswith("Measure a target")
    assert dict(listed)["affinity"].startswith("Measure how a step on one task changes the other")
    assert not (tmp_path / "runs").exists()


def described(subcommand: str, directory: Path) -> str:
    """``mtl SUBCOMMAND --help`` with the help's own line breaks removed."""
    done = mtl(subcommand, "--help", cwd=directory, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return " ".join(done.stdout.split())


def assert_options(text: str, options: list[tuple[str, str]]) -> None:
    """Each option is shown followed by its meaning."""
    missing = [option for option, meaning in options if f"{option} {meaning}" not in text]
    assert not missing, f"{missing} not described in: {text}"


def test_report_help_describes_its_options(tmp_path: Path) -> None:
    text = described("report", tmp_path)
    assert text.startswith("usage: mtl report RUN_DIR [RUN_DIR ...] --output REPORT.md")
    assert_options(text, [
        ("runs", "run directories (runs/<name>/version_N)"),
        ("--output OUTPUT", "the report's Markdown file; figures go to a folder beside it"),
        ("--row LABEL=PATTERN", "put the runs whose name matches PATTERN on one row LABEL"),
        ("--select {last,best}", "fit stage: each run's final validation (last) or its best one by val/average"),
        ("--stage {fit,validate,test}", "whose results-<stage>.json to read"),
        ("--yardstick YARDSTICK", "published numbers to set beside the rows"),
    ])  # fmt: skip


def test_advise_help_describes_its_options_and_the_target_config(tmp_path: Path) -> None:
    text = described("advise", tmp_path)
    assert text.startswith("usage: mtl advise --source")
    assert_options(text, [
        ("--source SOURCE", "the source run's checkpoint, or a pretrained model"),
        ("--tasks TASKS [TASKS ...]", "advise for these of the target's tasks only"),
        ("--sample SAMPLE", "texts sampled from each side"),
        ("--small_data SMALL_DATA", "fewer target training rows than this are small data"),
        ("--max_unk_rate MAX_UNK_RATE", "a larger share of unknown target tokens ([UNK], <unk>) is dissimilar text"),
        ("--max_distance MAX_DISTANCE", "a larger normalised Fréchet distance is dissimilar text"),
        ("--max_fertility MAX_FERTILITY", "without a distance (a pretrained source, no reference text): more"),
        ("--reference REFERENCE", "for a pretrained source: plain text of the kind the model was trained"),
        ("-c CONFIG, --config CONFIG", "Path to a configuration file"),
        ("--data.data_dir DATA_DIR", "a folder of local corpora"),  # the target config, as fit reads it
    ])  # fmt: skip


def imported_modules(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reports."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_affinity_help_describes_its_options_and_the_fit_options(tmp_path: Path) -> None:
    text = described("affinity", tmp_path)
    assert text.startswith("usage: mtl affinity -c CONFIG.yaml [--steps N]")
    assert_options(text, [
        ("--steps STEPS", "training steps of the short fit (in place of trainer.max_steps and max_epochs)"),
        ("--affinity.every_n_steps EVERY_N_STEPS", "measure at one step in this many."),
        ("--affinity.lr LR", "the lookahead's learning rate; the optimiser's current one"),
    ])  # fmt: skip
    assert "--model.balancer" in text and "--trainer.max_steps" in text  # everything fit takes


def test_help_after_its_first_time_comes_from_the_cache_without_lightning(tmp_path: Path) -> None:
    env = {"MTL_CACHE": str(tmp_path / "cache")}
    for subcommand in (["--help"], ["fit", "--help"]):
        first = mtl(*subcommand, cwd=tmp_path, env=env, timeout=120)
        assert first.returncode == 0, first.stderr[-3000:]
        again = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "mtl", *subcommand], cwd=tmp_path, capture_output=True, text=True,
            timeout=120, env=checkout_env(env),
        )  # fmt: skip
        assert again.returncode == 0 and again.stdout == first.stdout
        modules = imported_modules(again.stderr)
        assert "mtl.command" in modules and not {"torch", "lightning", "jsonargparse", "mtl.cli"} & modules
    assert len(list((tmp_path / "cache" / "help").glob("*.txt"))) == 2


def test_import_mtl_is_lazy_and_its_names_still_import() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mtl; print(sorted(mtl.__all__)[:2], mtl.LSTMEncoder.__name__)"],
        capture_output=True, text=True, timeout=120, env=checkout_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["['CNNEncoder',", "'ClassificationHead']", "LSTMEncoder"]
    lazy = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mtl"], capture_output=True, text=True, timeout=120, env=checkout_env()
    )
    assert "torch" not in imported_modules(lazy.stderr)


def test_setup_builds_every_help_so_the_first_one_needs_no_lightning(tmp_path: Path) -> None:
    env = {"MTL_CACHE": str(tmp_path / "cache"), "COLUMNS": "60"}  # the terminal's width does not matter
    warm = subprocess.run(
        [sys.executable, "-c", "from mtl.command import warm_help_cache; warm_help_cache()"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=checkout_env(env),
    )  # fmt: skip
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert len(list((tmp_path / "cache" / "help").glob("*.txt"))) == 1 + len(SUBCOMMANDS)
    for subcommand in (["--help"], *([name, "--help"] for name in SUBCOMMANDS)):
        first = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "mtl", *subcommand], cwd=tmp_path, capture_output=True, text=True,
            timeout=120, env=checkout_env(env | {"COLUMNS": "150"}),
        )  # fmt: skip
        assert first.returncode == 0 and first.stdout.startswith("usage: mtl"), first.stderr[-2000:]
        assert not {"torch", "lightning", "mtl.cli"} & imported_modules(first.stderr)
        assert max(len(line) for line in first.stdout.splitlines()) > 60  # drawn 100 wide, not at the terminal's 60
