"""``mtl advise``: which transfer strategy suits a target experiment, given a source run.

The target experiment is read as ``mtl fit`` reads it (the same parser: ``-c`` files merged
in order, ``--section.key`` overrides, ``--tasks``); only its data section is used, and its
text is read with the source run's tokenizer."""

from __future__ import annotations

import sys
from collections.abc import Callable

from jsonargparse import ArgumentParser, Namespace

from mtl.encoders.base import Encoder
from mtl.task_heads import move_task_heads
from mtl.task_selection import select_tasks
from mtl.transfer.advisor import Advice, Thresholds
from mtl.transfer.errors import TransferError
from mtl.transfer.measure import advise_for_datamodule, built, datamodule_from_config
from mtl.transfer.source_run import SourceRun, load_source_run

USAGE = "mtl advise --source runs/<name>/version_N/checkpoints/last.ckpt -c experiments/<target>.yaml [options]"
DEFAULTS = Thresholds()


def advise(
    target: Namespace,
    source: str,
    tasks: list[str] | None = None,
    data_dir: str | None = None,
    sample: int = 1000,
    small_data: int = DEFAULTS.small_data,
    max_unk_rate: float = DEFAULTS.max_unk_rate,
    max_distance: float = DEFAULTS.max_distance,
) -> Advice:
    """Measure a target experiment's data against a source run and recommend a transfer strategy.

    Args:
        target: the target experiment's config, as ``mtl fit`` parses it
        source: the source run's checkpoint
        tasks: advise for these of the target's tasks only (as mtl fit --tasks)
        data_dir: the folder of local corpora (sets data.data_dir)
        sample: texts sampled from each side
        small_data: fewer target training rows than this are small data
        max_unk_rate: a larger share of [UNK] target tokens is dissimilar text
        max_distance: a larger normalised Fréchet distance is dissimilar text
    """
    run = load_source_run(source)
    move_task_heads(target)  # a task may declare its type by its head
    if tasks:
        try:
            select_tasks(target, list(tasks))
        except ValueError as error:
            raise TransferError(str(error)) from None
    tokenizer = str(run.tokenizer_path) if run.tokenizer_path else None
    data = datamodule_from_config(target.data.as_dict(), tokenizer, data_dir)
    thresholds = Thresholds(small_data, max_unk_rate, max_distance)
    return advise_for_datamodule(run, source_encoder(run), data, thresholds, sample, data_dir)


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
    except TransferError as error:
        sys.exit(f"error: {error}")
    print(advice.table())
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
