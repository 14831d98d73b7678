"""Early, readable errors for config files, before anything is built or written.

:func:`config_errors` reads the ``-c/--config`` files of a command line itself and
reports, with file and line: YAML syntax errors, ``class_path`` values that cannot be
imported (a bare class name is accepted, as the argument parser accepts it, when it names
a subclass of the type its key declares), and misspelt keys (with a "did you mean" and the valid keys).
:func:`head_task_errors` checks the resolved config (after all files and overrides) for
heads that do not fit their task's type. Both run before a run directory, a logger or a
W&B run exists. :func:`fail` shows such an error as one ``error: ...`` line.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml

from mtl.config_signatures import declared_classes, inner_classes, parameters, section_classes, subclass_named, subclasses

#: Keys that jsonargparse gives a meaning of its own inside a ``class_path`` mapping.
_CLASS_KEYS = {"class_path", "init_args", "dict_kwargs"}


class ConfigError(ValueError):
    """A config that cannot be run as written. The message names the file (and line), the
    key, and what to write instead."""


def fail(error: BaseException) -> NoReturn:
    """Show one of the project's own errors as ``error: <message>`` on stderr, no traceback;
    exit 2 for a config error (as the argument parser does), 1 for bad data."""
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2 if isinstance(error, ConfigError) else 1)


F = TypeVar("F", bound=Callable[..., Any])


def errors_shown_plainly(command: F) -> F:
    """Run ``command`` showing the project's own errors (:class:`ConfigError`,
    :class:`~mtl.data.errors.DataError`, :class:`~mtl.transfer.errors.TransferError`,
    :class:`~mtl.checkpoint_check.CheckpointError`, :class:`~mtl.pretrained_files.PretrainedError`: their messages name the file and the
    fix) with :func:`fail`."""
    from mtl.checkpoint_check import CheckpointError
    from mtl.data.errors import DataError
    from mtl.pretrained_files import PretrainedError
    from mtl.transfer.errors import TransferError

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, DataError, TransferError, CheckpointError, PretrainedError) as error:
            fail(error)

    return run  # type: ignore[return-value]


def config_errors(args: list[str]) -> list[str]:
    """Everything found wrong in the config files of a command line: YAML syntax first
    (a file that does not parse is not checked further), then class paths and keys."""
    errors = []
    for path in _config_files(args):
        try:
            root, value = _read(path)
        except ConfigError as error:
            errors.append(str(error))
            continue
        errors += [f"{path}: {e}" for e in _class_path_errors_in(value)]
        errors += unknown_key_errors(path, root)
    errors += [f"command line: {e}" for e in _command_line_class_path_errors(args)]
    return errors


def _config_files(args: list[str]) -> Iterator[Path]:
    for i, arg in enumerate(args):
        if arg in ("-c", "--config") and i + 1 < len(args):
            path = Path(args[i + 1])
        elif arg.startswith(("--config=", "-c=")):
            path = Path(arg.partition("=")[2])
        else:
            continue
        if path.is_file():
            yield path


def _read(path: Path) -> tuple[yaml.Node | None, Any]:
    """The file's YAML node tree (with line numbers) and its value; a syntax error as a
    ConfigError naming file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        reason = error.problem or "invalid YAML"
        if error.context:
            context_mark = error.context_mark
            at = f" at line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark else ""
            reason += f" ({error.context}{at})"
        raise ConfigError(f"{where}: YAML syntax error: {reason}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: YAML syntax error: {error}") from None


# -- class paths ------------------------------------------------------------------------
def _class_path_errors_in(value: Any) -> list[str]:
    errors = []
    for key, class_path in _walk(value, ""):
        problem = _class_path_problem(key, class_path)
        if problem:
            errors.append(problem)
    return errors


def _command_line_class_path_errors(args: list[str]) -> list[str]:
    errors = []
    for i, arg in enumerate(args):
        if arg.startswith("--") and ".class_path" in arg:
            key, _, value = arg[2:].partition("=")
            if not value and i + 1 < len(args):
                value = args[i + 1]
            problem = _class_path_problem(key, value)
            if problem:
                errors.append(problem)
    return errors


def _class_path_problem(key: str, value: str) -> str | None:
    """What is wrong with ``key = value`` (a ``class_path``), or None. A name without a module
    is what the argument parser accepts too: a subclass of the type ``key`` declares."""
    if "." not in value:
        declared = declared_classes(key)
        if any(subclass_named(cls, value) is not None for cls in declared):
            return None
        names = sorted({c.__name__ for cls in declared for c in subclasses(cls) if not inspect.isabstract(c)})
        close = difflib.get_close_matches(value, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {names}" if names else ""
        return f"{key} = {value!r} names no known class (give the full import path, e.g. mtl.heads.TaggingHead){hint}"
    problem = _import_problem(value)
    return f"{key} = {value!r} cannot be imported ({problem}){_suggestion(value)}" if problem else None


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
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return f"no module {module_name!r}: {error}"
    if not hasattr(module, attribute):
        return f"module {module_name!r} has no {attribute!r}"
    return None


def named_class(value: str, declared: Any = None) -> Any:
    """The object a ``class_path`` names (a bare name: the subclass of ``declared`` of
    that name), or None when there is none."""
    if not isinstance(value, str):
        return None
    if "." not in value:
        return subclass_named(declared, value) if inspect.isclass(declared) else None
    if _import_problem(value):
        return None
    module_name, _, attribute = value.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


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


# -- misspelt keys ----------------------------------------------------------------------
@dataclasses.dataclass
class _Place:
    """Where a mapping is in the file, for the message."""

    path: Path
    key: str  # dotted, e.g. model.heads.sst2.init_args
    task: str | None = None  # the task's name, inside data.tasks

    def child(self, key: str, task: str | None = None) -> _Place:
        return _Place(self.path, f"{self.key}{key}", task if task is not None else self.task)


def unknown_key_errors(path: Path, root: yaml.Node) -> list[str]:
    """One message per key in the file that its class does not take, e.g.
    ``typo.yaml:7: task 'sst2' (data.tasks[0]): unknown key 'lable'; did you mean 'label'?
    (Task takes: ...)``. Checked: the sections of :func:`~mtl.config_signatures.section_classes`, the mappings that
    name a ``class_path`` and the dataclasses (a task, its corruption, the tokenizer).
    Keys of anything else are left to the argument parser."""
    if not isinstance(root, yaml.MappingNode):
        return []
    errors: list[str] = []
    sections = section_classes()
    for key_node, value_node in _pairs(root):
        cls = sections.get(key_node.value)
        if cls is not None and isinstance(value_node, yaml.MappingNode):
            _check_keys(_pairs(value_node), cls, 0, _Place(path, key_node.value), errors)
    return errors


def _pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """The key/value nodes of a mapping, YAML merge keys (``<<: *anchor``) resolved."""
    yaml.constructor.SafeConstructor().flatten_mapping(node)
    return [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and isinstance(k.value, str)]


def _check_value(node: yaml.Node, cls: Any, supplied: int, place: _Place, errors: list[str]) -> None:
    """A value of type ``cls``: a ``class_path`` mapping is checked against the class it
    names, a plain mapping only when ``cls`` is a dataclass (another class's mapping may
    take its class_path from another config file)."""
    if not isinstance(node, yaml.MappingNode):
        return
    pairs = _pairs(node)
    keys = {k.value: v for k, v in pairs}
    if "class_path" in keys:
        chosen = named_class(_scalar(keys["class_path"]), cls)
        if chosen is None:
            return  # the class path check reports it
        init = keys.get("init_args")
        if isinstance(init, yaml.MappingNode):
            _check_keys(_pairs(init), chosen, supplied, place.child(".init_args"), errors)
        _check_keys([(k, v) for k, v in pairs if k.value not in _CLASS_KEYS], chosen, supplied, place, errors)
    elif dataclasses.is_dataclass(cls) and inspect.isclass(cls):
        _check_keys(pairs, cls, 0, place, errors)


def _check_keys(pairs: list[tuple[yaml.Node, yaml.Node]], cls: Any, supplied: int, place: _Place, errors: list[str]) -> None:
    """The keys of a mapping of ``cls``'s arguments (less the first ``supplied``, which a
    factory's caller passes), and the values that hold other classes."""
    params = parameters(cls)
    if params is None:
        return
    params = dict(list(params.items())[supplied:])
    for key_node, value_node in pairs:
        key = key_node.value
        if key.startswith("__") or "." in key:  # jsonargparse's own, or a dotted path: left to the parser
            continue
        if key not in params:
            errors.append(_unknown(key, params, cls, place, key_node.start_mark.line + 1))
            continue
        inner = inner_classes(params[key])
        if isinstance(value_node, yaml.SequenceNode) and "item" in inner:
            tasks = cls.__name__ == "MultiTaskDataModule" and key == "tasks"
            for i, item in enumerate(value_node.value):
                child = place.child(f".{key}[{i}]", _task_name(item, i) if tasks else None)
                _check_value(item, *inner["item"], child, errors)
        elif isinstance(value_node, yaml.MappingNode) and "value" in inner:
            for k, v in _pairs(value_node):
                _check_value(v, *inner["value"], place.child(f".{key}.{k.value}"), errors)
        elif isinstance(value_node, yaml.MappingNode) and "self" in inner:
            _check_value(value_node, *inner["self"], place.child(f".{key}"), errors)


def _unknown(key: str, params: dict[str, Any], cls: Any, place: _Place, line: int) -> str:
    owner = f"task {place.task!r} ({place.key})" if place.task is not None else place.key
    valid = sorted(params)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    takes = f"takes: {', '.join(valid)}" if valid else "takes no arguments"
    return f"{place.path}:{line}: {owner}: unknown key {key!r}{hint} ({cls.__name__} {takes})"


def _task_name(node: yaml.Node, index: int) -> str:
    if isinstance(node, yaml.MappingNode):
        for k, v in _pairs(node):
            if k.value == "name" and isinstance(v, yaml.ScalarNode):
                return v.value
    return f"#{index + 1}"


def _scalar(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else None


# -- heads and tasks --------------------------------------------------------------------
def head_task_errors(config: Any) -> list[str]:
    """Heads whose ``label_type`` does not fit their task's type, in a resolved config
    (``config.model.heads``: name -> class_path/init_args; ``config.data.tasks``)."""
    from mtl.data.task import LABEL_TYPE, TASK_TYPE
    from mtl.heads.base import TaskHead

    heads = config.get("model.heads") if hasattr(config, "get") else None
    tasks = config.get("data.tasks") if hasattr(config, "get") else None
    if heads is None or not tasks:
        return []
    errors = []
    names = [task.get("name") for task in tasks]
    if hasattr(heads, "keys") and set(heads) != set(names):
        missing, extra = [n for n in names if n not in heads], sorted(set(heads) - set(names))
        parts = ([f"no head for task(s) {missing}"] if missing else []) + ([f"no task for head(s) {extra}"] if extra else [])
        errors.append(
            f"model.heads and data.tasks disagree: {'; '.join(parts)}; give one head per task, keyed by the "
            f"task's name or as the task's head: (the tasks are {names})"
        )
    for task in tasks:
        name, kind = task.get("name"), task.get("type")
        head = heads.get(name) if hasattr(heads, "get") else None
        class_path = head.get("class_path") if hasattr(head, "get") else head if isinstance(head, str) else None
        cls = named_class(class_path) if class_path else None
        if not (inspect.isclass(cls) and issubclass(cls, TaskHead)) or kind not in LABEL_TYPE:
            continue
        wanted = LABEL_TYPE[kind]
        if getattr(cls, "label_type", wanted) == wanted:
            continue
        fitting = _heads_for(wanted, pair=bool(task.get("text_pair")))
        use = f"use {' or '.join(fitting)}" if fitting else f"use a head whose label_type is {wanted!r}"
        made_for = TASK_TYPE.get(cls.label_type)
        errors.append(
            f"task {name!r} is a {kind} task, but model.heads.{name} is {cls.__name__}, a head for "
            f"{made_for or cls.label_type} tasks; {use} (or change the task's type:)"
        )
    return errors


def _heads_for(label_type: str, pair: bool) -> list[str]:
    import mtl.heads

    fitting = [
        f"mtl.heads.{name}" for name in mtl.heads.__all__ if getattr(getattr(mtl.heads, name), "label_type", None) == label_type
    ]
    # the pair heads first for a sentence-pair task, last otherwise
    return sorted(fitting, key=lambda n: ("Pair" in n) != pair)
