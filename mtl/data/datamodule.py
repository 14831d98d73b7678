"""The data side of a multi-task run: sources, labels, tokenizer, encoding, loaders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import datasets
import lightning as L
import torch
from tokenizers import Tokenizer
from torch.utils.data import DataLoader, Dataset

from mtl.data.bucketing import sorted_batches
from mtl.data.collate import collate
from mtl.data.encoding import InputEncoder, encode_split
from mtl.data.errors import DataError
from mtl.data.loader import MultiTaskTrainLoader, StepPlan, own_generator
from mtl.data.sampling import SamplingStrategy, TaskSampler
from mtl.data.shard_sampler import ShardSampler
from mtl.data.source import infer_labels, load_task_splits
from mtl.data.task import Task, resolve_source
from mtl.data.tokenizer import (
    TokenizerSpec,
    cache_dir,
    cache_key,
    load_cached_tokenizer,
    load_tokenizer,
    save_atomically,
    train_tokenizer,
)

log = logging.getLogger(__name__)

PREDICT_TASK = "predict"


class MultiTaskDataModule(L.LightningDataModule):
    """Loads every task's splits, trains (or loads) one tokenizer on all training text,
    encodes the splits and serves the step-wise multi-task training loader and one
    evaluation loader per task.

    Args:
        tasks: the task declarations (see :class:`mtl.data.Task`).
        data_dir: a folder of local corpora; tasks then read their ``local_source``
            and ``{data_dir}`` in sources is replaced by it.
        batch_size: rows per task batch on each process.
        eval_batch_size: rows per evaluation batch; ``2 * batch_size`` by default.
        sampling: how tasks are chosen at each step (see :class:`mtl.data.TaskSampler`).
        temperature: for ``sampling: temperature``.
        anneal_epochs: for ``sampling: annealed``.
        steps_per_epoch: fixed number of training steps per epoch.
        tokenizer: how to train or load the tokenizer.
        num_workers: ``DataLoader`` worker processes.
        bucket_batches: batches per length bucket (1 disables bucketing).
        seed: seed of the task schedule and batch order; ``None`` takes the global seed
            (``torch.initial_seed()``, which ``seed_everything`` sets), which is what the
            ``mtl`` command does unless ``data.seed`` is given.
        predict_file: inputs for ``mtl predict``: ``.jsonl``/``.json``, ``.csv``/``.tsv``
            (header row), or plain text with one input per line (column ``text``).
        predict_text: column of ``predict_file`` holding the text.
        predict_text_pair: column holding a second text, for sentence-pair tasks.
        predict_max_length: sub-word tokens kept per prediction input.
    """

    def __init__(
        self,
        tasks: list[Task],
        data_dir: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        sampling: SamplingStrategy = "proportional",
        temperature: float = 2.0,
        anneal_epochs: int = 10,
        steps_per_epoch: int | None = None,
        tokenizer: TokenizerSpec | None = None,
        num_workers: int = 0,
        bucket_batches: int = 50,
        seed: int | None = 0,
        predict_file: str | None = None,
        predict_text: str = "text",
        predict_text_pair: str | None = None,
        predict_max_length: int = 256,
    ) -> None:
        super().__init__()
        if not tasks:
            raise DataError("no tasks declared; list at least one under data.tasks")
        names = [t.name for t in tasks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(f"task names must be unique; {duplicates} appear more than once in data.tasks")
        if PREDICT_TASK in names:
            raise DataError(f"{PREDICT_TASK!r} is reserved; rename that task")
        self.data_dir = data_dir
        self.tasks = {t.name: resolve_source(t, data_dir) for t in tasks}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.task_sampler = TaskSampler(sampling, temperature, anneal_epochs, steps_per_epoch)
        self.tokenizer_spec = tokenizer or TokenizerSpec()
        self.num_workers = num_workers
        self.bucket_batches = bucket_batches
        self.seed = seed if seed is not None else torch.initial_seed() % 2**32
        self.predict_file = predict_file
        self.predict_text = predict_text
        self.predict_text_pair = predict_text_pair
        self.predict_max_length = predict_max_length
        self.raw: dict[str, datasets.DatasetDict] = {}
        self.labels: dict[str, list[str]] = {}
        self.tokenizer: Tokenizer | None = None
        self.tokenizer_path: Path | None = None
        self.encoded: dict[str, dict[str, datasets.Dataset]] = {}

    # -- what the model needs to be built: linked into the module by the CLI ----------
    @property
    def vocab_size(self) -> int:
        self.prepare()
        return self.tokenizer.get_vocab_size()

    @property
    def task_labels(self) -> dict[str, list[str]]:
        self.prepare()
        return dict(self.labels)

    # -- preparation -------------------------------------------------------------------
    def prepare(self) -> None:
        """Load every split, settle the label lists and the tokenizer (once)."""
        if self.tokenizer is not None:
            return
        for name, task in self.tasks.items():
            if "train" not in task.splits:
                raise DataError(f"task {name!r}: splits {task.splits} has no 'train' role; add `train: <split name>`")
            self.raw[name] = load_task_splits(task)
            if task.self_supervised:
                continue  # labels: the vocabulary, below
            self.labels[name] = task.labels if task.labels is not None else self._infer_labels(task)
            if task.type in ("classification", "multilabel") and len(self.labels[name]) < 2:
                raise DataError(f"task {name!r}: found labels {self.labels[name]}; a classifier needs at least 2")
        self.tokenizer = self._tokenizer()
        vocabulary = [self.tokenizer.id_to_token(i) for i in range(self.tokenizer.get_vocab_size())]
        self.labels = {name: vocabulary if task.self_supervised else self.labels[name] for name, task in self.tasks.items()}

    def _infer_labels(self, task: Task) -> list[str]:
        splits = self.raw[task.name]
        labels = infer_labels(task, splits["train"])
        for role, split in splits.items():
            if role != "train" and task.label in split.column_names:
                labels += [label for label in infer_labels(task, split) if label not in labels]
        return labels

    def _tokenizer(self) -> Tokenizer:
        spec = self.tokenizer_spec
        if spec.path is not None and Path(spec.path).is_file():
            self.tokenizer_path = Path(spec.path)
            return load_tokenizer(spec.path)
        corpus_ids = [f"{n}:{self.raw[n]['train']._fingerprint}" for n in self.tasks]
        path = Path(spec.path) if spec.path else cache_dir() / "tokenizers" / f"{cache_key(spec, corpus_ids)}.json"
        cached = load_cached_tokenizer(path)  # None when absent or damaged: then trained anew
        if cached is not None:
            self.tokenizer_path = path
            return cached
        log.info("training a %s tokenizer (vocab %d) on the training text of %s", spec.kind, spec.vocab_size, list(self.tasks))
        tokenizer = train_tokenizer(self._training_text(), spec)
        save_atomically(tokenizer, path)
        self.tokenizer_path = path
        return tokenizer

    def _training_text(self):
        for name, task in self.tasks.items():
            train = self.raw[name]["train"]
            for column in [task.text] + ([task.text_pair] if task.text_pair else []):
                for rows in train.iter(batch_size=1000):
                    for value in rows[column]:
                        yield " ".join(value) if isinstance(value, list) else value

    def setup(self, stage: str | None = None) -> None:
        self.prepare()
        roles = {"fit": ["train", "validation"], "validate": ["validation"], "test": ["test"], "predict": []}
        for name in self.tasks:
            for role in roles.get(stage or "fit", ["train", "validation", "test"]):
                if role in self.raw[name]:
                    self._split(name, role)
        if stage == "predict":
            self.encoded[PREDICT_TASK] = {"predict": self._encode_predict_file()}

    def _encode_predict_file(self) -> datasets.Dataset:
        if self.predict_file is None:
            raise DataError("no inputs to predict; set data.predict_file to a .jsonl, .csv/.tsv or .txt file")
        path = Path(self.predict_file)
        if not path.is_file():
            raise DataError(f"data.predict_file {str(path)!r} does not exist")
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            rows = datasets.load_dataset("json", data_files=str(path), split="train")
        elif suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            rows = datasets.load_dataset("csv", data_files=str(path), split="train", delimiter=sep)
        else:
            rows = datasets.load_dataset("text", data_files=str(path), split="train")
        for column in [self.predict_text] + ([self.predict_text_pair] if self.predict_text_pair else []):
            if column not in rows.column_names:
                raise DataError(
                    f"data.predict_file {str(path)!r} has no column {column!r}; its columns are {rows.column_names} "
                    f"(set data.predict_text / data.predict_text_pair)"
                )
        self.predict_rows = rows
        encoder = InputEncoder(self.tokenizer, self.predict_text, self.predict_text_pair, self.predict_max_length)
        return rows.map(encoder, batched=True, with_indices=True, remove_columns=rows.column_names, desc="Encoding inputs")

    # -- loaders -----------------------------------------------------------------------
    def train_dataloader(self) -> MultiTaskTrainLoader:
        train = {name: self._split(name, "train") for name in self.tasks}
        plan = StepPlan(
            lengths={name: split["length"] for name, split in train.items()},
            batch_size=self.batch_size,
            sampler=self.task_sampler,
            seed=self.seed,
            rank=self.trainer.global_rank if self.trainer else 0,
            world_size=self.trainer.world_size if self.trainer else 1,
            bucket_batches=self.bucket_batches,
            groups=self.input_groups(),
        )
        return MultiTaskTrainLoader(train, plan, self.num_workers)

    def input_groups(self) -> dict[str, str]:
        """Task name to the name of the first task with the same encoder inputs (same
        source, text columns, length limit and training rows)."""
        groups: dict[str, str] = {}
        seen: dict[str, str] = {}
        for name, t in self.tasks.items():
            corrupted = (t.type, t.corruption) if t.self_supervised else None  # its own input
            key = repr((t.source, t.splits.get("train"), t.text, t.text_pair, t.max_length, t.max_train_examples, corrupted))
            groups[name] = seen.setdefault(key, name)
        return groups

    def val_dataloader(self) -> list[DataLoader]:
        return [self._eval_loader(name, "validation") for name in self.tasks if "validation" in self.raw[name]]

    def test_dataloader(self) -> list[DataLoader]:
        missing = [name for name in self.tasks if "test" not in self.raw[name]]
        if missing:
            raise DataError(f"tasks {missing} declare no test split; add `test: <split name>` to their splits")
        return [self._eval_loader(name, "test") for name in self.tasks]

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader(PREDICT_TASK, "predict")

    def _split(self, name: str, role: str) -> datasets.Dataset:
        """The encoded split, encoded on first use."""
        encoded = self.encoded.setdefault(name, {})
        if role not in encoded:
            encoded[role] = encode_split(self.raw[name][role], self.tasks[name], self.tokenizer, self.labels[name], role)
        return encoded[role]

    def _eval_loader(self, name: str, role: str) -> DataLoader:
        split = self._split(name, role) if name != PREDICT_TASK else self.encoded[name][role]
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer is not None else (1, 0)
        # Small splits get smaller batches, so that every process has at least one.
        size = max(1, min(self.eval_batch_size, -(-len(split) // world)))
        dataset = _Batches(split, sorted_batches(split["length"], size), name)
        return DataLoader(
            dataset,
            batch_size=None,
            sampler=ShardSampler(dataset, world, rank) if world > 1 else None,
            num_workers=self.num_workers,
            generator=own_generator(self.seed),
        )


class _Batches(Dataset):
    """Pre-formed evaluation batches (sorted by length); under DDP whole batches are
    spread over the processes."""

    def __init__(self, split: datasets.Dataset, batches: list[list[int]], task: str) -> None:
        self.split, self.batches, self.task = split, batches, task

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return collate(self.split[self.batches[i]], self.task)
