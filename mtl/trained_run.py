"""``mtl validate|test|predict --ckpt_path``: the model reads text with the tokenizer it was
trained with and names its outputs with the labels it was trained with, whatever the
config says now.

A checkpoint of ``mtl fit`` holds the label lists (``hyper_parameters.task_labels``) and
what identifies the tokenizer (the data module's state: its SHA-256 and JSON, see
:meth:`mtl.data.MultiTaskDataModule.state_dict`); the run directory holds that tokenizer as
``tokenizer.json``. Before anything is built, the config is brought in line with them: the
label lists become the checkpoint's (a reordered list is put back in the trained order,
with one line saying so; other labels or other tasks are refused) and ``data.tokenizer.path``
becomes the run's ``tokenizer.json`` once its digest matches (a missing or different one is
refused). Otherwise a changed ``labels:`` list or a retrained tokenizer (another training
file, another vocabulary) would give wrong predictions and metrics without any sign.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.utilities import rank_zero_only

from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.errors import DataError
from mtl.data.task import SELF_SUPERVISED
from mtl.data.tokenizer import TokenizerSpec, load_tokenizer, tokenizer_digest

log = logging.getLogger(__name__)
note = rank_zero_only(log.warning)

#: Where Lightning keeps the data module's state in a checkpoint.
DATA_STATE_KEY = MultiTaskDataModule.__qualname__


def follow_checkpoint(config: Any, command: str, state: dict[str, Any] | None) -> None:
    """Set the config's label lists and tokenizer to those of the checkpoint at
    ``config.ckpt_path``, whose contents ``state`` are (as read by
    :func:`mtl.checkpoint_check.read_checkpoint`; None when no file is given).

    Raises:
        DataError: the config declares other tasks or other labels than the checkpoint was
            trained on, or the tokenizer it was trained with is not found.
    """
    hparams = state.get("hyper_parameters") if isinstance(state, dict) else None
    if not isinstance(hparams, dict) or not isinstance(hparams.get("task_labels"), dict):
        return  # none, Lightning's "last"/"best", or not one of ours: Lightning reports those
    checkpoint = Path(str(config.get("ckpt_path")))
    _follow_labels(config, command, checkpoint, hparams["task_labels"])
    data_state = state.get(DATA_STATE_KEY) or {}
    _follow_tokenizer(config, command, checkpoint, data_state.get("tokenizer"), hparams.get("vocab_size"))


def trained_tokenizer_path(checkpoint: Path, state: dict[str, Any]) -> Path:
    """The ``tokenizer.json`` beside the run of ``checkpoint`` (whose contents ``state``
    are), checked against the digest the checkpoint records.

    Raises:
        DataError: the file is missing or holds another tokenizer.
    """
    saved = run_dir(checkpoint) / "tokenizer.json"
    recorded = (state.get(DATA_STATE_KEY) or {}).get("tokenizer")
    return _checked([saved], recorded, (state.get("hyper_parameters") or {}).get("vocab_size"), checkpoint, saved)


def run_checkpoint(path: Path) -> Path:
    """The checkpoint a trained run is used from: ``path`` itself when it is a file, else
    the run directory's newest ``checkpoints/best-*.ckpt`` (by ``val/average``), else its
    ``checkpoints/last.ckpt``.

    Raises:
        DataError: there is none.
    """
    if path.is_file():
        return path
    folder = path / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    chosen = best[-1] if best else folder / "last.ckpt"
    if not chosen.is_file():
        raise DataError(f"no checkpoint at {str(path)!r}: give a run directory (runs/<name>/version_N) or a .ckpt file")
    return chosen


def run_dir(checkpoint: Path) -> Path:
    """The run directory of ``<run>/checkpoints/<file>.ckpt`` (else the file's folder)."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def _follow_labels(config: Any, command: str, checkpoint: Path, trained: dict[str, list[str]]) -> None:
    tasks = config.get("data.tasks") or []
    names = [_get(task, "name") for task in tasks]
    if sorted(names) != sorted(trained):
        raise DataError(
            f"checkpoint {str(checkpoint)!r} was trained on tasks {list(trained)}, but the config declares {names}; "
            f"{command} with the tasks it was trained on (its run's config: {str(run_dir(checkpoint) / 'config.yaml')!r})"
        )
    for task in tasks:
        name = _get(task, "name")
        if _get(task, "type") in SELF_SUPERVISED:
            continue  # labels: the vocabulary, i.e. the tokenizer (checked below)
        theirs = [str(label) for label in trained[name]]
        ours = _get(task, "labels")
        ours = None if ours is None else [str(label) for label in ours]
        if ours != theirs and ours is not None and sorted(ours) != sorted(theirs):
            raise DataError(
                f"task {name!r}: the config lists labels {ours}, but checkpoint {str(checkpoint)!r} was trained with "
                f"{theirs}; its outputs mean those labels, so {command} with exactly those (any order) or without "
                "`labels:` for the task"
            )
        if ours is not None and ours != theirs:
            note(
                "task %r: labels in the checkpoint's order %s, not the config's %s (the order the model was trained with)",
                name, theirs, ours,
            )  # fmt: skip
        _set(task, "labels", theirs)


def _follow_tokenizer(
    config: Any, command: str, checkpoint: Path, recorded: dict[str, Any] | None, vocab_size: int | None
) -> None:
    spec = config.get("data.tokenizer")
    if spec is None:
        spec = Namespace(**asdict(TokenizerSpec()))
        config["data.tokenizer"] = spec
    configured = Path(str(spec.get("path"))) if spec.get("path") else None
    saved = run_dir(checkpoint) / "tokenizer.json"
    candidates = [saved] + ([configured] if configured is not None and not _same_file(configured, saved) else [])
    chosen = _checked(candidates, recorded, vocab_size, checkpoint, saved)
    if configured is None or not _same_file(configured, chosen):
        note("%s: reading text with %s, the tokenizer checkpoint %s was trained with", command, chosen, checkpoint)
    spec["path"] = str(chosen)


def _checked(
    candidates: list[Path], recorded: dict[str, Any] | None, vocab_size: int | None, checkpoint: Path, saved: Path
) -> Path:
    """The first candidate that is the tokenizer the checkpoint records (by its digest; by
    its vocabulary size for a checkpoint that records none)."""
    if recorded and recorded.get("sha256"):
        return _matching(candidates, recorded["sha256"], checkpoint, saved)
    return _unrecorded(candidates, vocab_size, checkpoint, saved)


def _matching(candidates: list[Path], digest: str, checkpoint: Path, saved: Path) -> Path:
    """The first candidate whose content is the recorded tokenizer."""
    looked = []
    for path in candidates:
        if not path.is_file():
            looked.append(f"{str(path)!r} does not exist")
            continue
        try:
            found = tokenizer_digest(load_tokenizer(path))
        except Exception as error:  # noqa: BLE001 - not a tokenizer: say so below
            looked.append(f"{str(path)!r} cannot be read as a tokenizer ({type(error).__name__})")
            continue
        if found == digest:
            return path
        looked.append(f"{str(path)!r} is another tokenizer (sha256 {found[:12]})")
    raise DataError(
        f"checkpoint {str(checkpoint)!r} was trained with the tokenizer of sha256 {digest[:12]}, which fit copied to "
        f"{str(saved)!r}; but {'; '.join(looked)}. Another tokenizer gives other token ids and silently wrong "
        "predictions, and a retrained one differs; restore that tokenizer.json, or set data.tokenizer.path to a copy of it"
    )


def _unrecorded(candidates: list[Path], vocab_size: int | None, checkpoint: Path, saved: Path) -> Path:
    """A checkpoint that does not record its tokenizer (written before mtl did): the run's
    ``tokenizer.json`` or the configured one, when its vocabulary size fits."""
    for path in candidates:
        if path.is_file():
            size = load_tokenizer(path).get_vocab_size()
            if vocab_size is not None and size != int(vocab_size):
                raise DataError(
                    f"checkpoint {str(checkpoint)!r} was trained with a vocabulary of {vocab_size} tokens, but the "
                    f"tokenizer {str(path)!r} has {size}; set data.tokenizer.path to the tokenizer.json it was trained with"
                )
            note("checkpoint %s does not record its tokenizer; taking %s (its vocabulary size fits)", checkpoint, path)
            return path
    raise DataError(
        f"checkpoint {str(checkpoint)!r} does not record its tokenizer and {str(saved)!r} does not exist; set "
        "data.tokenizer.path to the tokenizer.json it was trained with (a retrained tokenizer differs)"
    )


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _get(task: Any, key: str) -> Any:
    return task.get(key) if hasattr(task, "get") else getattr(task, key)


def _set(task: Any, key: str, value: Any) -> None:
    if isinstance(task, (dict, Namespace)):
        task[key] = value
    else:
        setattr(task, key, value)
