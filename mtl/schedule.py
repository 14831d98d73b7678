"""Learning-rate schedules: linear warm-up, then constant, linear or cosine decay."""

from __future__ import annotations

import math
from typing import Literal

Schedule = Literal["constant", "linear", "cosine"]


def lr_factor(step: int, total: int, warmup: int, schedule: Schedule, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total``.

    Rises linearly from ``1/warmup`` to 1 over the first ``warmup`` steps, then stays
    (``constant``) or falls to ``min_ratio`` at ``total`` (``linear``, ``cosine``).
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "linear":
        decay = 1.0 - progress
    elif schedule == "cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"schedule {schedule!r} is not one of ['constant', 'linear', 'cosine']")
    return min_ratio + (1.0 - min_ratio) * decay
