"""A run with no validation split: its checkpoints are not ranked by ``val/average``.

Lightning's ``ModelCheckpoint`` would warn at every epoch that the monitored key is
missing; ``mtl fit`` instead turns the monitor off, says so once, and keeps the newest
weights as the run's checkpoint (``last.ckpt`` and the one ``best-*`` file).
"""

from __future__ import annotations

import logging
from typing import Any

from lightning.pytorch.utilities import rank_zero_only

#: The score the ``mtl`` command ranks checkpoints by (``checkpoint.monitor``'s default).
MONITOR = "val/average"

log = logging.getLogger(__name__)


def monitor_without_validation(config: Any) -> bool:
    """Turn ``checkpoint.monitor`` off when it is :data:`MONITOR` and no task of
    ``config.data.tasks`` has a ``validation`` role in its ``splits``; True when it did."""
    tasks = config.get("data.tasks") or []
    if config.get("checkpoint.monitor") != MONITOR or not tasks or any(_validates(t) for t in tasks):
        return False
    config["checkpoint.monitor"] = None
    rank_zero_only(log.warning)(
        "no task has a validation split: checkpoints are not ranked by %s (checkpoint.monitor off); "
        "the run keeps its newest weights (add `validation:` to a task's `splits:`, e.g. 'train[90%%:]', to rank them)",
        MONITOR,
    )
    return True


def _validates(task: Any) -> bool:
    splits = task.get("splits") if hasattr(task, "get") else getattr(task, "splits", None)
    return splits is None or "validation" in splits  # None: the default splits, which validate
