"""What the sections of an ``mtl`` config accept, read from the signatures of the classes
that take them: argument names and types, the classes a ``class_path`` may name, and the
subclasses a short ``class_path`` resolves to. :mod:`mtl.config_check` checks configs
against it."""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections import abc
from typing import Any


def section_classes() -> dict[str, type]:
    """The top-level sections of an ``mtl fit|validate|test|predict`` config and the class
    whose arguments each takes (see :class:`mtl.cli.MultiTaskCLI`)."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint

    from mtl.callbacks import BalancerPlots, PredictionWriter, ResultsTable
    from mtl.data.datamodule import MultiTaskDataModule
    from mtl.module import MultiTaskModule

    return {
        "model": MultiTaskModule,
        "data": MultiTaskDataModule,
        "trainer": Trainer,
        "checkpoint": ModelCheckpoint,  # RunCheckpoint takes the same arguments
        "results": ResultsTable,
        "predictions": PredictionWriter,
        "plots": BalancerPlots,
    }


def parameters(cls: Any) -> dict[str, Any] | None:
    """Argument name -> type hint of what builds ``cls``, in order; None when it takes
    ``**kwargs`` (any key may be right) or cannot be inspected."""
    if dataclasses.is_dataclass(cls) and inspect.isclass(cls):
        hints = _hints(cls)
        return {f.name: hints.get(f.name) for f in dataclasses.fields(cls) if f.init} | _task_head(cls)
    target = cls.__init__ if inspect.isclass(cls) else cls
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params = [p for p in signature.parameters.values() if p.name != "self"]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    hints = _hints(target)
    return {p.name: hints.get(p.name) for p in params if p.kind is not p.VAR_POSITIONAL}


def _task_head(cls: Any) -> dict[str, Any]:
    """A task's ``head`` as what it becomes, a ``model.heads`` factory of a
    :class:`~mtl.heads.TaskHead` (the data package types it without importing the heads)."""
    from mtl.data.task import Task

    if cls is not Task:
        return {}
    from mtl.model import HeadFactory

    return {"head": HeadFactory | None}


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: check the names only
        return {}


def inner_classes(hint: Any) -> dict[str, tuple[Any, int]]:
    """What the parts of a value of type ``hint`` are checked against, as (class, number
    of arguments its factory is called with): ``self`` for the value itself, ``item`` for
    list items, ``value`` for dict values."""
    found: dict[str, tuple[Any, int]] = {}
    for option in union_members(hint):
        origin, args = typing.get_origin(option), typing.get_args(option)
        if origin in (list, tuple, abc.Sequence, abc.Iterable) and args:
            spec = class_spec(args[0])
            if spec is not None:
                found.setdefault("item", spec)
        elif origin in (dict, abc.Mapping) and len(args) == 2:
            spec = class_spec(args[1])
            if spec is not None:
                found.setdefault("value", spec)
        else:
            spec = class_spec(option)
            if spec is not None:
                found.setdefault("self", spec)
    return found


def union_members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return [hint] if hint is not None else []


def class_spec(hint: Any) -> tuple[Any, int] | None:
    """(class, arguments its factory supplies) for a class, a dataclass or a factory
    ``Callable[[int, list[str]], TaskHead]``; None for plain values."""
    for option in union_members(hint):
        if typing.get_origin(option) is abc.Callable:
            args = typing.get_args(option)
            supplied = len(args[0]) if args and isinstance(args[0], list) else 0
            return (args[-1] if args and inspect.isclass(args[-1]) else object), supplied
        if inspect.isclass(option) and option not in (str, int, float, bool, dict, list, tuple):
            return option, 0
    return None


def declared_classes(key: str) -> list[type]:
    """The classes a ``class_path`` at ``key`` (``model.balancer.class_path``,
    ``trainer.logger[0].class_path``, ``model.heads.sst2.class_path``) may name a subclass
    of, read from the signatures of the config's sections; [] when it cannot be told."""
    parts = [p for p in re.sub(r"\[\d+\]", "", key).split(".") if p not in ("class_path", "init_args")]
    section = section_classes().get(parts[0]) if parts else None
    classes, rest = ([section] if section is not None else []), parts[1:]
    while classes and rest:
        options = [o for c in classes for o in union_members((parameters(c) or {}).get(rest[0]))]
        keyed = len(rest) > 1 and any(typing.get_origin(o) in (dict, abc.Mapping) for o in options)
        specs = [inner_classes(o).get("value" if keyed else "self") or inner_classes(o).get("item") for o in options]
        classes = [spec[0] for spec in specs if spec and inspect.isclass(spec[0]) and spec[0] is not object]
        rest = rest[2:] if keyed else rest[1:]  # a dict of classes: the part after it is a key
    return classes


def subclasses(cls: type) -> list[type]:
    """``cls`` and every (imported) subclass of it."""
    found, todo = [], [cls]
    while todo:
        current = todo.pop()
        if current not in found:
            found.append(current)
            todo += current.__subclasses__()
    return found


def subclass_named(cls: type, name: str) -> type | None:
    matches = [c for c in subclasses(cls) if c.__name__ == name and not inspect.isabstract(c)]
    return matches[0] if len(matches) == 1 else None
