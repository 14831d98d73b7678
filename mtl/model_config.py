"""The model's config, kept in a checkpoint of the ``mtl`` command, so that
``MultiTaskModule.load_from_checkpoint(path)`` rebuilds the module from the file alone.

It sits beside, not in, the checkpoint's ``hyper_parameters``: LightningCLI merges those
into the command line of a run given ``--ckpt_path``, and a checkpoint of another encoder
or heads must be refused there (see :mod:`mtl.checkpoint_check`), not silently followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch
from lightning.pytorch.cli import instantiate_module

#: the checkpoint key of the config: the module's init arguments, each component as
#: ``class_path``/``init_args`` (plain values, so ``weights_only`` loads read it)
MODEL_CONFIG = "model_config"

M = TypeVar("M", bound=L.LightningModule)


def plain_values(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The module's init ``arguments`` as the checkpoint keeps them: a dataclass (the
    tokenizer's special ids) as a dict, so that ``weights_only`` loads read it."""
    return {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in arguments.items()}


def rebuild_from_checkpoint(cls: type[M], path: str | Path, map_location: Any = None, strict: bool | None = None) -> M | None:
    """``cls`` built from the config in checkpoint ``path`` and loaded with its weights;
    None when the checkpoint holds no config (made in Python, not by the command)."""
    return rebuild_from_state(cls, torch.load(path, map_location=map_location or "cpu", weights_only=True), strict)


def rebuild_from_state(cls: type[M], checkpoint: dict[str, Any], strict: bool | None = None) -> M | None:
    """``cls`` built from the config in an already read ``checkpoint`` and loaded with its
    weights; None when it holds no config."""
    config = checkpoint.get(MODEL_CONFIG)
    if config is None:
        return None
    module = instantiate_module(cls, {k: v for k, v in config.items() if k != "_instantiator"})
    module.model_config = config
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"], strict=module.strict_loading if strict is None else strict)
    device = next((t.device for t in checkpoint["state_dict"].values() if isinstance(t, torch.Tensor)), None)
    return module.to(device) if device is not None else module
