"""The README's recipes, run as a user runs them: every command line it shows is covered by
a test that runs it through ``mtl`` (or says why it cannot run here), and its Python
example trains as printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from command import ROOT, TINY, checkout_env, mtl

README = ROOT / "README.md"

#: Each command the README shows (a regular expression over the command line) and the tests
#: that run it through the ``mtl`` command, as ``file::test``; or, for what cannot run in
#: the tests, the reason in place of a test.
RECIPES: dict[str, list[str]] = {
    r"^make train": ["test_cli.py::test_demo_reaches_stated_accuracy_then_tests_and_predicts"],
    r"^make test": ["CI runs it: .ci/run calls make test"],
    r"^mtl fit -c experiments/demo\.yaml$": ["test_cli.py::test_demo_reaches_stated_accuracy_then_tests_and_predicts"],
    r"^mtl fit .*--print_config": ["test_readme_recipes.py::test_print_config_shows_the_resolved_config_and_trains_nothing"],
    r"^mtl fit .*--model\.lr .*--data\.batch_size": ["test_readme_recipes.py::test_overrides_run_name_and_seed_land_in_the_run"],
    r"^mtl fit .*--tasks": ["test_readme_recipes.py::test_tasks_option_trains_a_subset_into_its_own_folder"],
    r"^mtl fit .*--run_name .*--seed_everything": ["test_readme_recipes.py::test_overrides_run_name_and_seed_land_in_the_run"],
    r"^mtl test -c .*--ckpt_path": ["test_cli.py::test_demo_reaches_stated_accuracy_then_tests_and_predicts"],
    r"^mtl predict -c experiments/demo\.yaml --ckpt_path": [
        "test_cli.py::test_demo_reaches_stated_accuracy_then_tests_and_predicts"
    ],
    r"^mtl test --run runs/demo/version_0$": [
        "test_command_run_option.py::test_a_run_tests_and_predicts_without_its_training_files"
    ],
    r"^mtl predict --run runs/demo/version_0 --data\.predict_file": [
        "test_command_run_option.py::test_a_run_tests_and_predicts_without_its_training_files"
    ],
    r"^mtl export --run runs/demo/version_0$": [
        "test_command_export.py::test_an_lstm_run_exports_a_program_that_serves_without_mtl"
    ],
    r"^mtl predict -c .*--data\.predict_words punctuation": [
        "test_command_predict.py::test_punctuation_is_split_off_when_asked_and_said_when_not"
    ],
    r"^mtl affinity -c experiments/(demo|glue)\.yaml --steps": [
        "test_command_affinity.py::test_affinity_command_prints_and_writes_the_matrices_and_groupings"
    ],
    r"^mtl fit -c .*--trainer\.callbacks\+=mtl\.callbacks\.TaskAffinity": [
        "test_command_affinity.py::test_fit_with_the_callback_writes_the_matrices_into_its_run"
    ],
    r"^mtl advise --source": ["transfer/test_advisor.py::test_mtl_advise_command_recommends_a_strategy"],
    r"^mtl report runs/a/version_0": ["test_cli.py::test_demo_reaches_stated_accuracy_then_tests_and_predicts"],
    r"^mtl report runs/glue/version_\*": ["report/test_report.py::test_mtl_report_command_with_globs_and_a_row_rule"],
    r"^sbatch launch/slurm\.sbatch": ["test_distributed_command.py::test_srun_two_tasks"],
    r"^mtl fit -c .*--trainer\.strategy=ddp --trainer\.devices=2$": ["test_distributed_command.py::test_lightning_launcher"],
    r"^torchrun --nproc-per-node=2": ["test_distributed_command.py::test_torchrun_one_node"],
    r"^torchrun --nnodes=2": ["test_distributed_command.py::test_torchrun_two_nodes_with_their_own_caches"],
}


def readme_commands() -> list[str]:
    """Every command line in the README's ``bash`` blocks (continuations joined, comments cut)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_every_readme_command_is_covered_by_a_test_that_exists() -> None:
    commands = readme_commands()
    assert len(commands) >= 15, commands
    uncovered = [c for c in commands if not any(re.search(p, c) for p in RECIPES)]
    assert not uncovered, f"README commands without a test in RECIPES: {uncovered}"
    stale = [p for p in RECIPES if not any(re.search(p, c) for c in commands)]
    assert not stale, f"RECIPES entries that match no README command any more: {stale}"
    for pattern, tests in RECIPES.items():
        assert tests, f"{pattern}: no test named"
        for entry in tests:
            if "::" not in entry:
                continue  # a reason, not a test
            file, name = entry.split("::")
            source = (ROOT / "tests" / file).read_text()
            assert re.search(rf"^def {re.escape(name)}\(", source, flags=re.M), f"{entry} (for {pattern}) does not exist"


def test_readme_python_example_trains_to_its_stated_accuracy(tmp_path: Path) -> None:
    example, _ = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    run_python(
        tmp_path,
        example + "\nassert trainer.callback_metrics['val/topic/accuracy'] >= 0.85, trainer.callback_metrics"
        "\nassert trainer.callback_metrics['val/tags/accuracy'] >= 0.70, trainer.callback_metrics\n",
    )


def run_python(directory: Path, code: str) -> None:
    """Run ``code`` as a script in ``directory`` with this checkout's ``mtl``; it must succeed."""
    script = directory / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=directory, capture_output=True, text=True, timeout=300,
        env=checkout_env({"OMP_NUM_THREADS": "1"}),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_readme_load_run_example_predicts_from_a_trained_run(tmp_path: Path) -> None:
    _, example = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (tmp_path / "tiny.yaml").write_text(TINY.read_text())
    fit = mtl("fit", "-c", "tiny.yaml", "--run_name", "demo", "--trainer.max_epochs=2", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run_python(
        tmp_path,
        example + "\nassert [len(r['tags']) for r in records] == [7, 7] and records[1]['text'].startswith('i never')"
        "\nassert records[0]['topic'] in run.task_labels['topic'] and 0 < records[0]['topic_probability'] <= 1\n",
    )


def test_print_config_shows_the_resolved_config_and_trains_nothing(tmp_path: Path) -> None:
    done = mtl(
        "fit", "-c", str(TINY), "--print_config", "--model.lr", "0.003", "--data.batch_size", "64", cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert config["model"]["lr"] == 0.003 and config["data"]["batch_size"] == 64
    assert config["model"]["encoder"]["class_path"].endswith("LSTMEncoder")
    assert [t["name"] for t in config["data"]["tasks"]] == ["tags", "sentiment", "topic"]
    assert not (tmp_path / "runs").exists()


def test_overrides_run_name_and_seed_land_in_the_run(tmp_path: Path) -> None:
    done = mtl(
        "fit", "-c", str(TINY), "--model.lr", "0.003", "--data.batch_size", "64", "--run_name", "glue/seed1",
        "--seed_everything", "1", "--trainer.max_steps", "3", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name != "wandb") == ["glue"]
    run = tmp_path / "runs" / "glue" / "seed1" / "version_0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["lr"] == 0.003 and config["data"]["batch_size"] == 64
    assert config["seed_everything"] == 1 and config["data"]["seed"] == 1  # the batch order follows the seed
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_tasks_option_trains_a_subset_into_its_own_folder(tmp_path: Path) -> None:
    done = mtl("fit", "-c", str(TINY), "--tasks", "[topic]", "--trainer.max_epochs", "1", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "topic" / "version_0"
    assert set(json.loads((run / "results-fit.json").read_text())["tasks"]) == {"topic"}
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert list(config["model"]["heads"]) == ["topic"] and [t["name"] for t in config["data"]["tasks"]] == ["topic"]


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_names_real_files(command: str) -> None:
    """Config files and scripts a README command names exist in the repository."""
    for word in command.split():
        if re.fullmatch(r"(experiments|launch)/[\w/.-]+\.(yaml|sbatch)", word):
            assert (ROOT / word).is_file(), f"{command}: {word} does not exist"
