"""Early, one-line errors for checkpoint files: a file that cannot be read (truncated, not
a checkpoint), and one written by a model of another configuration.

Checkpoints are read with ``torch.load(weights_only=True)`` (tensors and plain values,
never arbitrary pickled objects) and memory-mapped, so checking a large one is cheap.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
SHOWN = 4  # differing parameters and config keys named in one message


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as given; the message names the file and what to do."""


def read_checkpoint(path: str | Path, option: str = "--ckpt_path") -> dict[str, Any]:
    """The checkpoint at ``path``, or a :class:`CheckpointError` naming ``option``, the
    file, what is wrong with it and the other checkpoints of its folder."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{option} {path}: no such file. {other_checkpoints(path, option)}")
    try:
        with path.open("rb") as file:
            zipped = file.read(4) == ZIP_MAGIC
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
        except (RuntimeError, OSError):
            if not (zipped and zipfile.is_zipfile(path)):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # a file system without mmap
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 (torch.load raises many kinds for a bad file)
        raise CheckpointError(unreadable(path, option, error)) from None


def unreadable(path: Path, option: str, error: BaseException) -> str:
    """One line: which file, why it cannot be read, and what to use instead."""
    return f"{option} {path} {why_unreadable(path, error)}. {other_checkpoints(path, option)}"


def why_unreadable(path: Path, error: BaseException) -> str:
    """Why ``torch.load`` failed on ``path``: "is truncated (...)", "is empty ...", ..."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(4)
    except OSError as problem:
        return f"cannot be opened ({problem.strerror or problem})"
    if size == 0:
        return "is empty (0 bytes), not a checkpoint"
    if head == ZIP_MAGIC and not zipfile.is_zipfile(path):
        return f"is truncated ({size} bytes, the end of the file is missing: a save or copy that was cut off)"
    if isinstance(error, pickle.UnpicklingError) and "Unsupported global" in str(error):
        return "holds Python objects, not only tensors and plain values (mtl reads checkpoints with weights_only=True)"
    if head != ZIP_MAGIC:
        return "is not a PyTorch checkpoint (torch.save writes a zip archive; this file is none)"
    return f"is damaged or not a PyTorch checkpoint ({type(error).__name__}: {_first_line(error)})"


def other_checkpoints(path: Path, option: str) -> str:
    """The complete checkpoint files beside ``path``, newest first, as advice."""
    folder = path.parent
    try:
        candidates = [p for p in folder.glob("*.ckpt") if p.is_file() and p.resolve() != path.resolve()]
    except OSError:
        candidates = []
    whole = sorted((p for p in candidates if zipfile.is_zipfile(p)), key=lambda p: p.stat().st_mtime, reverse=True)
    if not whole:
        return f"There is no other complete checkpoint in {folder}; start afresh without {option}."
    names = ", ".join(p.name for p in whole[:SHOWN]) + (f" and {len(whole) - SHOWN} more" if len(whole) > SHOWN else "")
    return f"Other checkpoints in {folder} (newest first): {names}; pass one of them with {option}."


def check_weights(
    checkpoint: Mapping[str, Any],
    model: torch.nn.Module,
    path: str | Path,
    option: str = "--ckpt_path",
    config: Mapping[str, Any] | None = None,
    strict: bool = True,
) -> None:
    """Raise a :class:`CheckpointError` unless ``checkpoint['state_dict']`` fits ``model``:
    it names the parameters whose shapes differ (expected by the model vs found in the
    file), those missing or unexpected (with ``strict``), and the config keys that likely
    differ, from the checkpoint's saved hyper-parameters and, when the checkpoint lies in a
    run directory, that run's ``config.yaml`` against ``config`` (this run's, as a dict)."""
    path = Path(path)
    state = checkpoint.get("state_dict")
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"{option} {path} holds no model weights ('state_dict'); pass a checkpoint written by `mtl fit` "
            f"(runs/<name>/version_N/checkpoints/*.ckpt). {other_checkpoints(path, option)}"
        )
    own = model.state_dict()
    shapes = [
        (key, tuple(own[key].shape), tuple(state[key].shape))
        for key in own
        if key in state and hasattr(state[key], "shape") and tuple(state[key].shape) != tuple(own[key].shape)
    ]
    missing = [key for key in own if key not in state] if strict else []
    unexpected = [key for key in state if key not in own] if strict else []
    if not (shapes or missing or unexpected):
        return
    problems = [f"{key} expected {list(mine)} found {list(theirs)}" for key, mine, theirs in shapes[:SHOWN]]
    if len(shapes) > SHOWN:
        problems.append(f"and {len(shapes) - SHOWN} more parameters of other shapes")
    if missing:
        problems.append(f"missing {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {_names(unexpected)}")
    keys = _likely_keys([k for k, _, _ in shapes] + missing + unexpected, checkpoint, model, path, config)
    raise CheckpointError(
        f"{option} {path} was written by a model of another configuration: {'; '.join(problems)}. "
        f"Likely config keys: {keys}. Use the configuration the checkpoint was trained with, or a checkpoint "
        f"of this one."
    )


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:SHOWN]) + (f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def _likely_keys(
    params: list[str], checkpoint: Mapping[str, Any], model: torch.nn.Module, path: Path, config: Mapping[str, Any] | None
) -> str:
    """The config sections the differing parameters belong to, sharpened by the
    checkpoint's hyper-parameters and its run's config.yaml where those differ."""
    sections: dict[str, None] = {}
    for name in params:
        first, _, rest = name.partition(".")
        if first in ("encoder", "encoders"):
            sections["model.encoder"] = None
        elif first == "heads":
            sections[f"model.heads.{rest.partition('.')[0]}"] = None
        else:
            sections[f"model.{first}"] = None
    hints: list[str] = []
    saved = checkpoint.get("hyper_parameters") or {}
    ours = dict(getattr(model, "hparams", {}) or {})
    if "vocab_size" in saved and "vocab_size" in ours and saved["vocab_size"] != ours["vocab_size"]:
        hints.append(f"data.tokenizer (vocabulary of {saved['vocab_size']} tokens in the checkpoint, {ours['vocab_size']} now)")
    theirs_labels, our_labels = saved.get("task_labels") or {}, ours.get("task_labels") or {}
    if theirs_labels and our_labels and set(theirs_labels) != set(our_labels):
        hints.append(f"data.tasks (tasks {sorted(theirs_labels)} in the checkpoint, {sorted(our_labels)} now)")
    for task in sorted(set(theirs_labels) & set(our_labels)):
        if len(theirs_labels[task]) != len(our_labels[task]):
            hints.append(
                f"the labels of task {task!r} ({len(theirs_labels[task])} in the checkpoint, {len(our_labels[task])} now)"
            )
    differences = _config_differences(list(sections), path, config)
    if differences:  # other sections' parameters follow from these (e.g. the heads read the encoder's width)
        return "; ".join(hints + differences)
    return "; ".join(hints + [s for s in sections if not any(h.startswith(s) for h in hints)]) or "model"


def _config_differences(sections: list[str], path: Path, config: Mapping[str, Any] | None) -> list[str]:
    """``key: <value in the checkpoint's run> -> <value now>`` for the leaves of ``sections``
    that differ between the run's config.yaml and this run's config."""
    run_config = path.parent.parent / "config.yaml" if path.parent.name == "checkpoints" else path.parent / "config.yaml"
    if config is None or not run_config.is_file():
        return []
    try:
        with run_config.open() as file:
            theirs = _flatten(yaml.safe_load(file) or {})
    except (OSError, yaml.YAMLError):
        return []
    ours = _flatten(config)
    differences = []
    for key in sorted(set(theirs) | set(ours)):
        if any(key == s or key.startswith(f"{s}.") for s in sections) and theirs.get(key) != ours.get(key):
            differences.append(f"{key}: {theirs.get(key)!r} in {run_config}, {ours.get(key)!r} now")
    return differences[:SHOWN]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: node}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:160] if text else "no message"
