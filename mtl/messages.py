"""What the ``mtl`` command says while it works: the ``mtl`` loggers' lines on stderr.

Without this, Python prints only warnings (bare, through its last-resort handler) and the
toolkit's progress lines (``training a wordpiece tokenizer ...``) are never seen. Processes
other than rank zero of a DDP run keep their warnings and errors and drop the progress
lines, so a line is said once per run.
"""

from __future__ import annotations

import logging
import sys

from lightning.pytorch.utilities import rank_zero_only

#: The toolkit's loggers are all children of this one (``logging.getLogger(__name__)``).
ROOT_LOGGER = "mtl"


class _RankZeroProgress(logging.Filter):
    """Progress lines (below WARNING) from rank zero only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or getattr(rank_zero_only, "rank", 0) == 0


def show_messages(level: int = logging.INFO) -> None:
    """Print the ``mtl`` loggers' records of ``level`` and above on stderr, once each (no
    second handler when called again)."""
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(level)
    if any(getattr(h, "_mtl_messages", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_RankZeroProgress())
    handler._mtl_messages = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
