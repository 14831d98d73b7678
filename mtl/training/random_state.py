"""The random state a checkpoint keeps, so that a resumed run continues exactly (the
same dropout masks as an uninterrupted run)."""

from __future__ import annotations

import random
from typing import Any

import torch


def random_state() -> dict[str, Any]:
    """The random state of torch (CPU and CUDA) and of Python's ``random``."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
    }


def restore_random_state(state: dict[str, Any]) -> None:
    """Puts back a :func:`random_state` (CUDA's only on as many devices as were saved)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(_as_tuples(state["python"]))


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` needs tuples where a checkpoint may hold lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
