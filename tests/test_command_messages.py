"""What ``mtl fit`` says while it works: the toolkit's progress lines reach the terminal,
once each."""

from __future__ import annotations

import re
from pathlib import Path

from command import mtl, small_tiny_config


def test_tokenizer_training_is_said_once_and_a_cached_tokenizer_is_named(tmp_path: Path) -> None:
    small_tiny_config(tmp_path)
    env = {"MTL_CACHE": str(tmp_path / "cache"), "WANDB_MODE": "disabled"}
    first = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    said = "training a wordpiece tokenizer (vocab 300) on the 288 training rows of ['tags', 'sentiment', 'topic'] ..."
    assert first.stderr.count(said) == 1, first.stderr[-3000:]  # 3 tasks x 96 rows
    trained = re.findall(r"tokenizer trained in [\d.]+ s: (\d+) tokens, saved to (\S+)", first.stderr)
    assert len(trained) == 1 and Path(trained[0][1]).is_file() and 50 < int(trained[0][0]) <= 300

    again = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training a wordpiece tokenizer" not in again.stderr
    assert again.stderr.count(f"tokenizer: {trained[0][1]} ({trained[0][0]} tokens, trained before on the same text)") == 1
