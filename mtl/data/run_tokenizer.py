"""Where a run's tokenizer comes from: the pretrained model's own, a given ``tokenizer.json``,
or one trained on the tasks' training text and cached by content."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import datasets
from filelock import FileLock
from tokenizers import Tokenizer

from mtl.cache_folder import cache_dir
from mtl.data.pretrained_tokenizer import pretrained_tokenizer
from mtl.data.task import Task
from mtl.data.tokenizer import (
    TokenizerSpec,
    cache_key,
    load_cached_tokenizer,
    load_tokenizer,
    save_atomically,
    tokenizer_digest,
    train_tokenizer,
)

log = logging.getLogger(__name__)


def run_tokenizer(spec: TokenizerSpec, tasks: dict[str, Task], raw: dict[str, datasets.DatasetDict]) -> tuple[Tokenizer, Path]:
    """The tokenizer a run reads text with, and the ``tokenizer.json`` it is saved in (the
    file the run directory copies):

    - ``spec.path`` when that file exists (a trained run's tokenizer: predicting, resuming);
    - else the pretrained model's (``spec.pretrained``), saved once in the cache under its digest;
    - else one trained on the training text of ``tasks`` (their ``raw`` splits), cached by
      content at ``spec.path`` or in the cache.
    """
    if spec.path is not None and Path(spec.path).is_file():
        return load_tokenizer(spec.path), Path(spec.path)
    if spec.pretrained is not None:
        tokenizer = pretrained_tokenizer(spec.pretrained)
        path = cache_dir() / "tokenizers" / f"pretrained-{tokenizer_digest(tokenizer)[:16]}.json"
        with FileLock(_lock_file(path)):
            if not path.is_file():
                save_atomically(tokenizer, path)
        log.info("reading text with the tokenizer of %s (%d tokens)", spec.pretrained, tokenizer.get_vocab_size())
        return tokenizer, path
    corpus_ids = [f"{n}:{raw[n]['train']._fingerprint}" for n in tasks]
    path = Path(spec.path) if spec.path else cache_dir() / "tokenizers" / f"{cache_key(spec, corpus_ids)}.json"
    # Processes started together (torchrun, srun) would each train the same one: the
    # first trains and saves it, the others wait and load it.
    with FileLock(_lock_file(path)):
        cached = load_cached_tokenizer(path)  # None when absent or damaged: then trained anew
        if cached is not None:
            log.info("tokenizer: %s (%d tokens, trained before on the same text)", path, cached.get_vocab_size())
            return cached, path
        rows = sum(raw[n]["train"].num_rows for n in tasks)
        log.info(
            "training a %s tokenizer (vocab %d) on the %d training rows of %s ...", spec.kind, spec.vocab_size, rows, list(tasks)
        )
        started = time.perf_counter()
        tokenizer = train_tokenizer(training_text(tasks, raw), spec)
        save_atomically(tokenizer, path)
        log.info(
            "tokenizer trained in %.1f s: %d tokens, saved to %s", time.perf_counter() - started, tokenizer.get_vocab_size(), path
        )
    return tokenizer, path


def training_text(tasks: dict[str, Task], raw: dict[str, datasets.DatasetDict]) -> Iterator[str]:
    """Every training text of ``tasks`` (both texts of a pair; pre-split words joined by spaces)."""
    for name, task in tasks.items():
        train = raw[name]["train"]
        for column in [task.text] + ([task.text_pair] if task.text_pair else []):
            for rows in train.iter(batch_size=1000):
                for value in rows[column]:
                    yield " ".join(value) if isinstance(value, list) else value


def _lock_file(path: Path) -> Path:
    """A lock for writing ``path``, kept in the cache's ``locks`` folder (a lock file
    must outlive its use: deleting it would let a third process lock a new one)."""
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}.lock"
