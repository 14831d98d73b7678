"""``mtl fit`` on tagging data with words that the tokenizer turns into no token: one
warning line per split with the exact count, and the count in the run's loggers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from command import mtl, one_task_config

TASK = {
    "name": "chars",
    "head": {"class_path": "mtl.heads.TaggingHead"},
    "source": {"path": "json", "data_files": {"train": "train.jsonl", "validation": "validation.jsonl"}},
    "text": "tokens",
    "label": "tags",
}


def rows(sentences: list[str]) -> str:
    """Character-level tagging: every character a word, a space among them, tagged ``S``."""
    return "".join(json.dumps({"tokens": list(s), "tags": ["S" if c == " " else "C" for c in s]}) + "\n" for s in sentences)


def test_words_without_a_subword_are_said_once_and_logged(tmp_path: Path) -> None:
    train = ["ab cd", "a b", "abc", "dcba"] * 3  # 12 rows, 45 characters, 6 spaces
    (tmp_path / "train.jsonl").write_text(rows(train))
    (tmp_path / "validation.jsonl").write_text(rows(["ab c", "dd"]))  # 6 characters, 1 space
    (tmp_path / "tiny.yaml").write_text(one_task_config(TASK, log_every_n_steps=1))
    done = mtl("fit", "-c", "tiny.yaml", cwd=tmp_path, timeout=300, env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    line = "task 'chars': 6 of 45 labelled words in split 'train' produce no sub-word token (e.g. ' ')"
    assert output.count(line) == 1, output[-3000:]
    assert output.count("task 'chars': 1 of 6 labelled words in split 'validation'") == 1, output[-3000:]
    assert output.count("produce no sub-word token") == 2  # the test split is not read by fit

    (version,) = (tmp_path / "runs").glob("*/version_0")
    with (version / "metrics.csv").open() as f:
        logged = [row for row in csv.DictReader(f) if row.get("data/chars/train/words_without_subword")]
    assert [
        (r["step"], r["data/chars/train/words_without_subword"], r["data/chars/validation/words_without_subword"]) for r in logged
    ] == [("0", "6", "1")]
    (wandb_log,) = (tmp_path / "runs" / "wandb").glob("offline-run-*/run-*.wandb")
    assert b"data/chars/train/words_without_subword" in wandb_log.read_bytes()

    # a second run reads the encoded splits from the datasets cache and says the same
    again = mtl("fit", "-c", "tiny.yaml", cwd=tmp_path, timeout=300, env={"OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Encoding chars/train" not in again.stderr, "not read from the cache"
    assert (again.stdout + again.stderr).count(line) == 1
