"""``mtl advise``: which transfer strategy suits a target experiment, given a source run or a
pretrained model.

The target experiment is read as ``mtl fit`` reads it (the same parser: ``-c`` files merged
in order, ``--section.key`` overrides, ``--tasks``); only its data section is used, and its
text is read with the source's tokenizer (the run's ``tokenizer.json``, or the model's own)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from jsonargparse import ArgumentParser, Namespace

from mtl.data.errors import DataError
from mtl.encoders.base import Encoder
from mtl.pretrained_files import PretrainedError
from mtl.task_heads import move_task_heads
from mtl.task_selection import select_tasks
from mtl.transfer.advisor import Advice, Thresholds
from mtl.transfer.errors import TransferError
from mtl.transfer.measure import (
    advise_for_datamodule,
    advise_for_pretrained,
    built,
    datamodule_from_config,
    reference_texts,
)
from mtl.transfer.source_run import SourceRun, load_source_run

USAGE = (
    "mtl advise --source runs/<name>/version_N/checkpoints/last.ckpt|<pretrained model> -c experiments/<target>.yaml "
    "[--reference FILE] [options]"
)
DEFAULTS = Thresholds()


def advise(
    target: Namespace,
    source: str,
    tasks: list[str] | None = None,
    data_dir: str | None = None,
    reference: str | None = None,
    sample: int = 1000,
    small_data: int = DEFAULTS.small_data,
    max_unk_rate: float = DEFAULTS.max_unk_rate,
    max_distance: float = DEFAULTS.max_distance,
    max_fertility: float = DEFAULTS.max_fertility,
) -> Advice:
    """Measure a target experiment's data against a source and recommend a transfer strategy.

    The source is an earlier run or a pretrained model.

    Args:
        target: the target experiment's config, as ``mtl fit`` parses it
        source: the source run's checkpoint, or a pretrained model (a save_pretrained
            directory, package:<module>/<folder> or a hub name)
        tasks: advise for these of the target's tasks only (as mtl fit --tasks)
        data_dir: the folder of local corpora (sets data.data_dir)
        reference: for a pretrained source: plain text of the kind the model was trained
            on, one text a line; the representation distance to the target text is
            measured against it (without it, it is not measured)
        sample: texts sampled from each side
        small_data: fewer target training rows than this are small data
        max_unk_rate: a larger share of unknown target tokens ([UNK], <unk>) is dissimilar text
        max_distance: a larger normalised Fréchet distance is dissimilar text
        max_fertility: without a distance (a pretrained source, no reference text): more
            sub-words per target word than this is dissimilar text
    """
    pretrained = is_pretrained_source(source)
    if pretrained and Path(source).is_dir() and not (Path(source) / "config.json").is_file():
        raise TransferError(
            f"--source {source!r} is a directory without config.json, not a pretrained model; give a run's checkpoint "
            "(runs/<name>/version_N/checkpoints/last.ckpt) or a model directory written by save_pretrained"
        )
    run = None if pretrained else load_source_run(source)
    if reference is not None and not pretrained:
        raise TransferError(
            f"--reference is for a pretrained source; the source run {source!r} is compared with its own training text"
        )
    move_task_heads(target)  # a task may declare its type by its head
    if tasks:
        try:
            select_tasks(target, list(tasks))
        except ValueError as error:
            raise TransferError(str(error)) from None
    thresholds = Thresholds(small_data, max_unk_rate, max_distance, max_fertility)
    if run is None:
        data = datamodule_from_config(target.data.as_dict(), None, data_dir, pretrained=source)
        texts = None if reference is None else reference_texts(reference, sample)
        return advise_for_pretrained(source, data, thresholds, sample, texts)
    tokenizer = str(run.tokenizer_path) if run.tokenizer_path else None
    data = datamodule_from_config(target.data.as_dict(), tokenizer, data_dir)
    return advise_for_datamodule(run, source_encoder(run), data, thresholds, sample, data_dir)


def is_pretrained_source(source: str) -> bool:
    """A source that is neither an existing file nor named like a checkpoint (``*.ckpt``)
    is a pretrained model: a directory, ``package:<module>/<folder>`` or a hub name."""
    return not (Path(source).is_file() or source.endswith(".ckpt"))


def add_advise_arguments(parser: ArgumentParser) -> list[str]:
    """``advise``'s own options on a parser that already reads an ``mtl fit`` config, with
    ``--tasks`` taking names as they are (``--tasks a b``); the names of the options."""
    added = parser.add_function_arguments(advise, skip={"target", "tasks"})
    parser.add_argument(
        "--tasks", nargs="+", default=None, help="advise for these of the target's tasks only (as mtl fit --tasks)"
    )
    return [*added, "tasks"]


def run_advise(config: Namespace, options: list[str]) -> None:
    """Print the advice for a parsed ``mtl advise`` config; ``options`` are its own keys."""
    try:
        advice = advise(config, **{key: config[key] for key in options})
    except (TransferError, PretrainedError, DataError) as error:
        sys.exit(f"error: {error}")
    print(advice.table())
    if is_pretrained_source(config["source"]):  # the encoder names the model: no checkpoint
        print(f"\napply it with: --model.transfer.strategy {advice.strategy}"
              " (or strategy: auto; no checkpoint: the encoder names the model)")  # fmt: skip
    else:
        print(f"\napply it with: --model.transfer.checkpoint <source> --model.transfer.strategy {advice.strategy}"
              " (or strategy: auto)")  # fmt: skip


def source_encoder(source: SourceRun) -> Encoder:
    """The source run's encoder, built from its ``config.yaml`` as ``mtl fit`` builds it and
    loaded with its weights."""
    config = source.config() or {}
    spec = (config.get("model") or {}).get("encoder")
    if not isinstance(spec, dict) or "class_path" not in spec:
        raise TransferError(f"{source.run_dir}/config.yaml has no model.encoder class_path; cannot rebuild the source encoder")
    encoder = built(Callable[[int], Encoder], spec, f"{source.run_dir}/config.yaml: model.encoder")(source.vocab_size)
    encoder.load_state_dict(source.encoder_state)
    return encoder
