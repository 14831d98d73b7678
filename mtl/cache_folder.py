"""Where the toolkit keeps what it can rebuild: tokenizers, encoded data, help texts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MTL_CACHE``, else ``~/.cache/mtl``."""
    return Path(os.environ.get("MTL_CACHE", Path.home() / ".cache" / "mtl"))
