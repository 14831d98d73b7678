"""Early, readable errors for ``class_path`` values that cannot be imported."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


def class_path_errors(args: list[str]) -> list[str]:
    """Check every ``class_path`` in the ``-c/--config`` files and ``--*.class_path``
    overrides of a command line; one message per value that does not import."""
    errors = []
    for where, key, value in _class_paths(args):
        problem = _import_problem(value)
        if problem:
            errors.append(f"{where}: {key} = {value!r} cannot be imported ({problem}){_suggestion(value)}")
    return errors


def _class_paths(args: list[str]) -> Iterator[tuple[str, str, str]]:
    for i, arg in enumerate(args):
        if arg in ("-c", "--config") and i + 1 < len(args):
            path = Path(args[i + 1])
            if path.is_file():
                with path.open() as f:
                    yield from ((str(path), key, value) for key, value in _walk(yaml.safe_load(f), ""))
        elif arg.startswith("--") and ".class_path" in arg:
            key, _, value = arg[2:].partition("=")
            if not value and i + 1 < len(args):
                value = args[i + 1]
            yield "command line", key, value


def _walk(node: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "class_path" and isinstance(value, str):
                yield path, value
            else:
                yield from _walk(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{prefix}[{i}]")


def _import_problem(value: str) -> str | None:
    module_name, _, attribute = value.rpartition(".")
    if not module_name:
        return "give the full import path, e.g. mtl.heads.TaggingHead"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return f"no module {module_name!r}: {error}"
    if not hasattr(module, attribute):
        return f"module {module_name!r} has no {attribute!r}"
    return None


def _suggestion(value: str) -> str:
    module_name, _, attribute = value.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return ""
    names = [n for n, obj in vars(module).items() if inspect.isclass(obj) and not n.startswith("_")]
    close = difflib.get_close_matches(attribute, names, n=1)
    if close:
        return f"; did you mean {module_name}.{close[0]}?"
    return f"; {module_name} provides {sorted(names)}" if names else ""
