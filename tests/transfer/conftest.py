"""A tiny source run made by `mtl fit` (checkpoint, tokenizer.json, config.yaml), shared by
the transfer tests, and helpers to build target models from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtl.cli import main

ENCODER = {"embed_dim": 16, "hidden_dim": 16, "num_layers": 2, "dropout": 0.0}
#: the source's encoder, as a config's ``model:`` lines (targets must use the same)
MODEL_ENCODER = f"model:\n  encoder: {{class_path: mtl.encoders.LSTMEncoder, init_args: {ENCODER}}}\n"

SOURCE_CONFIG = """
seed_everything: 0
trainer:
  max_epochs: 1
  limit_train_batches: 8
  limit_val_batches: 2
  enable_progress_bar: false
  enable_model_summary: false
  logger:
    - class_path: lightning.pytorch.loggers.CSVLogger
      init_args: {save_dir: RUNS, name: source}
MODEL_ENCODER
  heads:
    sentiment: {class_path: mtl.heads.ClassificationHead}
  lr: 0.01
data:
  batch_size: 16
  tokenizer: {vocab_size: 300, min_frequency: 1}
  tasks:
    - name: sentiment
      type: classification
      source: {path: synthetic, train: 300, validation: 40, test: 0, seed: 0}
      text: text
      label: sentiment
"""


@pytest.fixture(scope="session")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoint of a 2-layer LSTM trained for 8 steps on synthetic sentiment."""
    root = tmp_path_factory.mktemp("source")
    config = root / "source.yaml"
    config.write_text(SOURCE_CONFIG.replace("RUNS", str(root / "runs")).replace("MODEL_ENCODER\n", MODEL_ENCODER))
    main(["fit", "-c", str(config), f"--trainer.default_root_dir={root / 'runs'}"])
    run = root / "runs" / "source" / "version_0"
    assert (run / "tokenizer.json").is_file() and (run / "config.yaml").is_file()
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def korean_and_english(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """JSON-lines corpora: synthetic-like English sentences and Korean-script strings,
    each in a small (20 rows) and a large (300 rows) training file."""
    import random

    from mtl.data.synthetic import write_corpus

    directory = tmp_path_factory.mktemp("targets")
    english_dir = directory / "english"
    write_corpus(str(english_dir), train=300, validation=20, test=0, seed=7)
    english = [json.loads(line)["text"] for line in (english_dir / "train.jsonl").read_text().splitlines()]
    rng = random.Random(0)
    korean = [
        " ".join("".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 9)))
        for _ in range(300)
    ]
    files = {}
    for name, texts in (("english", english), ("korean", korean)):
        for size in (20, 300):
            path = directory / f"{name}_{size}.jsonl"
            path.write_text("".join(json.dumps({"text": t, "label": str(i % 2)}) + "\n" for i, t in enumerate(texts[:size])))
            files[f"{name}_{size}"] = path
    return files
