"""``mtl fit --tasks a b``: run a subset of an experiment's tasks (single-task baselines from
the multi-task config), dropping the other tasks' data and heads before anything is built."""

from __future__ import annotations

from typing import Any


def select_tasks(config: Any, names: list[str]) -> None:
    """Keeps only ``names`` in ``config.data.tasks``, ``data.max_train_examples`` and ``config.model.heads`` (in the
    config's order); an unknown or repeated name is refused with the tasks there are."""
    tasks = config.get("data.tasks") or []
    available = [_name(task) for task in tasks]
    unknown = [n for n in names if n not in available]
    if unknown or len(set(names)) != len(names) or not names:
        problem = f"unknown task(s) {unknown}" if unknown else "each task once, at least one"
        raise ValueError(f"--tasks {names}: {problem}; the config's tasks are {available}")
    config["data.tasks"] = [task for task, name in zip(tasks, available) if name in names]
    caps = config.get("data.max_train_examples")
    if caps:
        config["data.max_train_examples"] = {n: c for n, c in caps.items() if n in names}
    heads = config.get("model.heads")
    if heads is not None:  # a dict of head specs (class_path, init_args)
        config["model.heads"] = {n: h for n, h in heads.items() if n in names}


def _name(task: Any) -> str:
    return task.get("name") if hasattr(task, "get") else task.name
