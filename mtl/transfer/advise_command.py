"""``mtl advise``: which transfer strategy suits a target experiment, given a source run."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

import yaml

from mtl.encoders.base import Encoder
from mtl.transfer.advisor import Advice, Thresholds
from mtl.transfer.errors import TransferError
from mtl.transfer.measure import advise_for_datamodule, datamodule_from_config
from mtl.transfer.source_run import SourceRun, load_source_run

USAGE = "mtl advise --source runs/<name>/version_N/checkpoints/last.ckpt -c experiments/<target>.yaml [options]"


def parse(args: list[str]) -> argparse.Namespace:
    defaults = Thresholds()
    parser = argparse.ArgumentParser(prog="mtl advise", usage=USAGE, description=__doc__)
    parser.add_argument("--source", required=True, help="the source run's checkpoint")
    parser.add_argument("-c", "--config", action="append", required=True, help="the target experiment's config (repeatable; later files win)")
    parser.add_argument("--data_dir", default=None, help="the folder of local corpora, as data.data_dir")
    parser.add_argument("--tasks", nargs="+", default=None, help="advise for these of the target's tasks only (as mtl fit --tasks)")
    parser.add_argument("--sample", type=int, default=1000, help="texts sampled from each side")
    parser.add_argument("--small_data", type=int, default=defaults.small_data)
    parser.add_argument("--max_unk_rate", type=float, default=defaults.max_unk_rate)
    parser.add_argument("--max_distance", type=float, default=defaults.max_distance)
    return parser.parse_args(args)


def merged_config(files: list[str]) -> dict[str, Any]:
    """The config files merged key by key, later files winning (as ``-c a -c b`` does)."""
    merged: dict[str, Any] = {}
    for path in files:
        with open(path) as f:
            _merge(merged, yaml.safe_load(f) or {})
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def source_encoder(source: SourceRun) -> Encoder:
    """The source run's encoder, rebuilt from its ``config.yaml`` and loaded with its weights."""
    config = source.config() or {}
    spec = (config.get("model") or {}).get("encoder")
    if not isinstance(spec, dict) or "class_path" not in spec:
        raise TransferError(f"{source.run_dir}/config.yaml has no model.encoder class_path; cannot rebuild the source encoder")
    module, _, name = spec["class_path"].rpartition(".")
    encoder = getattr(importlib.import_module(module), name)(source.vocab_size, **(spec.get("init_args") or {}))
    encoder.load_state_dict(source.encoder_state)
    return encoder


def advise(args: argparse.Namespace) -> Advice:
    source = load_source_run(args.source)
    data = merged_config(args.config).get("data") or {}
    if not data.get("tasks"):
        raise TransferError(f"the target config {args.config} declares no data.tasks")
    if args.tasks:
        names = [task.get("name") for task in data["tasks"]]
        unknown = [n for n in args.tasks if n not in names]
        if unknown:
            raise TransferError(f"--tasks: unknown task(s) {unknown}; the config's tasks are {names}")
        data["tasks"] = [task for task in data["tasks"] if task.get("name") in args.tasks]
    tokenizer = str(source.tokenizer_path) if source.tokenizer_path else None
    target = datamodule_from_config(data, tokenizer, args.data_dir)
    thresholds = Thresholds(args.small_data, args.max_unk_rate, args.max_distance)
    return advise_for_datamodule(source, source_encoder(source), target, thresholds, args.sample, args.data_dir)


def main(args: list[str]) -> None:
    try:
        advice = advise(parse(args))
    except TransferError as error:
        sys.exit(f"error: {error}")
    print(advice.table())
    print(f"\napply it with: --model.transfer.checkpoint <source> --model.transfer.strategy {advice.strategy}"
          " (or strategy: auto)")  # fmt: skip
