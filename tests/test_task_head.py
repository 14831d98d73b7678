"""A task declared once, with its head (``data.tasks[i].head``): the ``mtl`` command moves
the head to ``model.heads.<task>`` and reads the task's type from it; a head in both places,
a task with neither a type nor a head, and a misspelt head argument are refused in one line."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.command import TINY, mtl, small_tiny_config
from tests.test_command_errors import assert_nothing_created, fails

SENTIMENT = "{class_path: mtl.heads.ClassificationHead, init_args: {pooling: encoder}}"


def test_a_config_with_heads_on_its_tasks_trains_and_saves_them_under_model_heads(tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path, train_rows=32)
    assert "\n  heads:" not in config.read_text()  # tiny.yaml declares each head with its task
    done = mtl("fit", "-c", str(config), "--trainer.max_epochs=1", "--trainer.limit_val_batches=1", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = yaml.safe_load((tmp_path / "runs" / "tiny" / "version_0" / "config.yaml").read_text())
    heads = saved["model"]["heads"]
    assert list(heads) == ["tags", "sentiment", "topic"]
    assert heads["sentiment"]["class_path"].endswith("ClassificationHead")
    assert heads["sentiment"]["init_args"]["pooling"] == "encoder" and heads["topic"]["init_args"]["pooling"] == "max"
    tasks = {task["name"]: task for task in saved["data"]["tasks"]}
    assert {name: task["type"] for name, task in tasks.items()} == {
        "tags": "tagging",
        "sentiment": "classification",
        "topic": "classification",
    }
    assert all(task.get("head") is None for task in tasks.values())


def test_print_config_shows_the_heads_with_their_tasks(tmp_path: Path) -> None:
    done = mtl("fit", "-c", str(TINY), "--print_config", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = yaml.safe_load(done.stdout)
    assert printed["data"]["tasks"][1]["head"]["init_args"]["pooling"] == "encoder"
    assert_nothing_created(tmp_path)


def test_a_head_in_both_places_names_the_task_and_both_places(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text(f"model:\n  heads:\n    sentiment: {SENTIMENT}\n")
    error = fails(tmp_path, "-c", str(TINY), "-c", str(twice), code=2)
    assert "task 'sentiment'" in error
    assert "data.tasks[1].head" in error and "model.heads.sentiment" in error
    assert_nothing_created(tmp_path)


def test_a_task_with_neither_type_nor_head_says_what_to_add(tmp_path: Path) -> None:
    config = tmp_path / "headless.yaml"
    config.write_text(TINY.read_text().replace(f"      head: {SENTIMENT}\n", ""))
    error = fails(tmp_path, "-c", str(config), code=2)
    assert "task 'sentiment' (data.tasks[1]) has neither a type nor a head" in error
    assert "add type:" in error and "head:" in error
    assert_nothing_created(tmp_path)


def test_a_short_class_name_gives_the_type_of_its_task(tmp_path: Path) -> None:
    config = tmp_path / "short.yaml"
    config.write_text(TINY.read_text().replace("{class_path: mtl.heads.TaggingHead}", "{class_path: TaggingHead}"))
    done = mtl("fit", "-c", str(config), "--print_config", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    done = mtl("fit", "-c", str(config), "--trainer.fast_dev_run=true", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_misspelt_head_argument_on_a_task_names_the_head(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(TINY.read_text().replace("init_args: {pooling: encoder}", "init_args: {poolin: encoder}"))
    error = fails(tmp_path, "-c", str(config), code=2)
    assert "task 'sentiment' (data.tasks[1].head.init_args): unknown key 'poolin'; did you mean 'pooling'?" in error
    assert "(ClassificationHead takes:" in error
    assert_nothing_created(tmp_path)
