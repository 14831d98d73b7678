"""A run that diverged (NaN or infinite losses or validation metrics) is never a "best"
checkpoint and never reported as a success: ``mtl fit`` exits non-zero with one line
saying what went non-finite, at which step, and what to try."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L

ADVICE = "Try a lower model.lr or --trainer.gradient_clip_val=1.0"
NO_CHECKPOINT = "no checkpoint with finite validation metrics was saved to resume from"


def nonfinite_metrics(metrics: dict[str, Any]) -> list[str]:
    """The names of the training and validation metrics that are NaN or infinite."""
    names = []
    for name, value in metrics.items():
        if name.split("/")[0] in ("train", "val") and not math.isfinite(float(value)):
            names.append(name)
    return names


def divergence(trainer: L.Trainer, since: int | None = None) -> str | None:
    """One line on a run that ended with NaN/inf metrics (None if it did not): which,
    at which step, and what to try. ``since``: the step from which training losses have
    been NaN/inf, if they still are."""
    bad = nonfinite_metrics(trainer.callback_metrics)
    if not bad and since is None:
        return None
    losses = f"training losses NaN or infinite since step {since}" if since is not None else ""
    if bad:
        shown = [n for n in bad if n != "val/average"] or bad
        names = ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
        what = f"{names} {'is' if len(shown) == 1 else 'are'} NaN or infinite at step {trainer.global_step}"
        what += f" ({losses})" if losses else ""
    else:
        what = f"{losses} to the end (step {trainer.global_step})"
    best = good_checkpoint(trainer)
    resume = f", or resume from the best checkpoint (finite validation): --ckpt_path {best}" if best else f" ({NO_CHECKPOINT})"
    return f"the run diverged: {what}. {ADVICE}{resume}"


def good_checkpoint(trainer: L.Trainer) -> str | None:
    """The best checkpoint, whose validation metrics were finite (see
    :class:`~mtl.callbacks.checkpoint.RunCheckpoint`); None if there is none."""
    callback = trainer.checkpoint_callback
    best = getattr(callback, "best_model_path", "") if callback is not None else ""
    return best if best and Path(best).is_file() else None
