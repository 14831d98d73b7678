"""Running the ``mtl`` command as a user does: a subprocess with a timeout, never in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"  # the demo's tasks, small: about 15 s to fit
DEMO = ROOT / "experiments" / "demo.yaml"


def mtl(*args: str, cwd: Path, timeout: int = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m mtl ARGS`` in ``cwd`` (this checkout's ``mtl``, whatever is installed),
    with ``env`` added to the current environment."""
    command = [sys.executable, "-m", "mtl", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=checkout_env(env), stdin=subprocess.DEVNULL
    )


def checkout_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment with this checkout first on ``PYTHONPATH``, plus ``extra``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return os.environ | {"PYTHONPATH": path} | (extra or {})


def small_tiny_config(directory: Path, train_rows: int = 96) -> Path:
    """``tiny.yaml`` with ``train_rows`` training rows per task, written to
    ``directory/tiny.yaml`` (runs are named ``tiny``): 3 x 96 rows in batches of 16 make
    18 steps an epoch, a few seconds of training."""
    path = directory / "tiny.yaml"
    path.write_text(TINY.read_text().replace("train: 400,", f"train: {train_rows},"))
    return path


def one_task_config(task: dict[str, Any], **trainer: Any) -> str:
    """A config of one task (its declaration ``task``, head included) on an 8-wide LSTM,
    batches of 2, a 60-token WordPiece tokenizer, one epoch; ``trainer`` adds trainer settings."""
    return yaml.safe_dump(
        {
            "seed_everything": 0,
            "trainer": {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False} | trainer,
            "model": {
                "encoder": {
                    "class_path": "mtl.encoders.LSTMEncoder",
                    "init_args": {"embed_dim": 8, "hidden_dim": 8, "num_layers": 1},
                }
            },
            "data": {"batch_size": 2, "tokenizer": {"kind": "wordpiece", "vocab_size": 60, "min_frequency": 1}, "tasks": [task]},
        }
    )
