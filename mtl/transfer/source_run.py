"""An earlier run to transfer from: its checkpoint, read safely, and the files beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from mtl.checkpoint_check import other_checkpoints, why_unreadable
from mtl.transfer.errors import TransferError

EXPECTED = (
    "a Lightning checkpoint written by `mtl fit` (e.g. runs/<name>/version_N/checkpoints/last.ckpt) "
    "holding 'state_dict' with encoder weights and 'hyper_parameters' with vocab_size and task_labels"
)


@dataclass
class SourceRun:
    """A checkpoint of :class:`mtl.module.MultiTaskModule` and its run directory.

    Attributes:
        checkpoint: the checkpoint file.
        hyper_parameters: the module's saved hyper-parameters (``vocab_size``, ``task_labels``, ...).
        encoder_state: the encoder's weights (the first task's encoder under soft sharing).
        run_dir: the run directory (``<run_dir>/checkpoints/<file>.ckpt``).
    """

    checkpoint: Path
    hyper_parameters: dict[str, Any]
    encoder_state: dict[str, Tensor]
    run_dir: Path

    @property
    def vocab_size(self) -> int:
        return int(self.hyper_parameters["vocab_size"])

    @property
    def tokenizer_path(self) -> Path | None:
        """The run's ``tokenizer.json`` (copied there at the start of fit), if present."""
        path = self.run_dir / "tokenizer.json"
        return path if path.is_file() else None

    def config(self) -> dict[str, Any] | None:
        """The run's resolved ``config.yaml`` (written by ``mtl fit``), if present."""
        path = self.run_dir / "config.yaml"
        if not path.is_file():
            return None
        with path.open() as f:
            return yaml.safe_load(f)


def load_source_run(path: str | Path) -> SourceRun:
    """Read a checkpoint with ``torch.load(weights_only=True)`` and check that it is one of ours.

    Raises:
        TransferError: the file is missing, is not a PyTorch checkpoint (random bytes, a
            pickle of arbitrary objects), or is one without our hyper-parameters or
            encoder weights (a plain tensor file, another library's checkpoint).
    """
    path = Path(path)
    if not path.is_file():
        raise TransferError(f"source checkpoint {str(path)!r} does not exist; set model.transfer.checkpoint to {EXPECTED}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 (a truncated file raises OSError, RuntimeError, EOFError ...)
        raise TransferError(
            f"source checkpoint {str(path)!r} cannot be read as a PyTorch checkpoint of tensors and plain values: it "
            f"{why_unreadable(path, error)}. {other_checkpoints(path, 'model.transfer.checkpoint')} Expected {EXPECTED}"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
        raise TransferError(
            f"source checkpoint {str(path)!r} holds a {type(state).__name__} without 'state_dict', not a model "
            f"checkpoint; expected {EXPECTED}"
        )
    hparams = state.get("hyper_parameters")
    if not isinstance(hparams, dict) or "vocab_size" not in hparams or "task_labels" not in hparams:
        raise TransferError(
            f"source checkpoint {str(path)!r} has no mtl hyper-parameters (vocab_size, task_labels); it was not "
            f"written by mtl's MultiTaskModule. Expected {EXPECTED}"
        )
    encoder_state = _encoder_state(state["state_dict"])
    if not encoder_state:
        raise TransferError(
            f"source checkpoint {str(path)!r} has no encoder weights (keys 'encoder.*' or 'encoders.<task>.*'); "
            f"expected {EXPECTED}"
        )
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return SourceRun(path, dict(hparams), encoder_state, run_dir)


def _encoder_state(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The shared encoder's weights, without the ``encoder.`` prefix; under soft sharing
    (``encoders.<task>.``) those of the first task's encoder."""
    shared = {k[len("encoder.") :]: v for k, v in state_dict.items() if k.startswith("encoder.")}
    if shared:
        return shared
    tasks = list(dict.fromkeys(k.split(".")[1] for k in state_dict if k.startswith("encoders.")))
    if not tasks:
        return {}
    prefix = f"encoders.{tasks[0]}."
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
