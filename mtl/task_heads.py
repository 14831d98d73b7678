"""A head declared with its task (``data.tasks[i].head``): moved to ``model.heads.<task>``
before anything is built, the task's ``type`` read from the head's ``label_type`` when
left out. Both forms of a config work; each task has its head in one place."""

from __future__ import annotations

from typing import Any

from mtl.config_check import ConfigError, named_class
from mtl.data.task import LABEL_TYPE, TASK_TYPE
from mtl.heads.base import TaskHead


def move_task_heads(config: Any) -> None:
    """Each task's ``head`` to ``model.heads.<name>`` (after the heads already there), and
    the task's ``type`` from it when not given; a head in both places, or a task with
    neither a type nor a head, is refused naming the task."""
    tasks = config.get("data.tasks") or []
    heads = dict(config.get("model.heads") or {})
    for i, task in enumerate(tasks):
        name, head = task.get("name"), task.get("head")
        if head is not None:
            if name in heads:
                raise ConfigError(
                    f"task {name!r} has a head in two places, data.tasks[{i}].head and model.heads.{name}; keep one"
                )
            heads[name] = head
            task["head"] = None
        if task.get("type") is None:
            task["type"] = _task_type(name, i, head)
    config["model.heads"] = heads


def _task_type(name: str, index: int, head: Any) -> str:
    """The task type whose labels the head reads."""
    add = f"add type: (one of {', '.join(LABEL_TYPE)}) or head: (e.g. {{class_path: mtl.heads.ClassificationHead}})"
    if head is None:
        raise ConfigError(f"task {name!r} (data.tasks[{index}]) has neither a type nor a head; {add}")
    class_path = head.get("class_path") if hasattr(head, "get") else None
    cls = named_class(class_path, TaskHead) if class_path else None
    task_type = TASK_TYPE.get(getattr(cls, "label_type", None))
    if task_type is None:
        raise ConfigError(f"task {name!r} (data.tasks[{index}]): its head {class_path} does not tell the task's type; {add}")
    return task_type
