"""The data side of a multi-task run: sources, labels, tokenizer, encoding, loaders."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from mtl.cache_folder import cache_dir
from mtl.contracts import SpecialIds
from mtl.data.encoding import InputEncoder, encode_split
from mtl.data.errors import DataError
from mtl.data.evaluation_loaders import (
    check_every_process_evaluates,
    evaluation_loaders,
)
from mtl.data.loader import MultiTaskTrainLoader, StepPlan
from mtl.data.predict_inputs import (
    PredictWords,
    check_word_lists,
    read_predict_inputs,
    say_attached_punctuation,
    say_what_inputs_lose,
    shown_input,
)
from mtl.data.run_tokenizer import run_tokenizer, training_text
from mtl.data.sampling import SamplingStrategy, TaskSampler
from mtl.data.source import infer_labels, load_task_splits
from mtl.data.task import Task, resolve_source
from mtl.data.tokenizer import (
    TokenizerSpec,
    special_ids,
    tokenizer_digest,
)
from mtl.data.words_without_subword import WordsWithoutSubword, count_words_without_subword

log = logging.getLogger(__name__)
warn = rank_zero_only(log.warning)

PREDICT_TASK = "predict"


class MultiTaskDataModule(L.LightningDataModule):
    """Loads every task's splits, trains (or loads) one tokenizer on all training text,
    encodes the splits and serves the step-wise multi-task training loader and one
    evaluation loader per task.

    What the model is built from, ``vocab_size``, ``task_labels`` and ``special_ids``, is
    known only once the data is read: the first of them asked for runs :meth:`prepare`,
    which loads every split of every task and trains (or loads) the tokenizer. The CLI
    asks for them when it builds the model; in Python, call ``prepare()`` where that work
    should happen.

    After preparation ``tokenizer_path`` names the ``tokenizer.json`` in use (callbacks copy
    it into the run directory); after ``setup("predict")`` ``predict_rows`` holds the rows
    of ``predict_file`` (the prediction writer prints their text beside the predictions).
    ``words_without_subword`` holds, by task and split, the labelled words that produce
    no sub-word token (said once in a warning when the split is encoded; see
    :mod:`mtl.data.words_without_subword`).

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
        predict_text: column of ``predict_file`` holding the text. In a ``.jsonl`` file a
            list of strings is read as the words as given (for tagging; not split again).
        predict_text_pair: column holding a second text, for sentence-pair tasks.
        predict_words: how a text is split into the words that tagging tasks tag:
            ``whitespace`` (default; ``Tuesday.`` is one word, and a warning says when
            words have punctuation attached) or ``punctuation`` (whitespace, and every
            punctuation character a word of its own: ``on``, ``Tuesday``, ``.``).
        max_train_examples: task name to the number of training rows it uses (its first
            N), over the task's own ``max_train_examples``: a config fragment caps one
            task of an experiment without repeating its declaration.
        predict_max_length: sub-word tokens read per prediction input, special tokens
            included; ``None`` (default) reads every input whole, up to the encoder's own
            limit (a Transformer's learned positions). A longer input is cut, with a
            warning naming its line and a ``truncated`` field in its output.
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
        predict_words: PredictWords = "whitespace",
        predict_max_length: int | None = None,
        max_train_examples: dict[str, int] | None = None,
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
        unknown = sorted(set(max_train_examples or {}) - set(names))
        if unknown:
            raise DataError(f"data.max_train_examples names tasks {unknown} that are not in data.tasks {names}")
        caps = max_train_examples or {}
        tasks = [dataclasses.replace(t, max_train_examples=caps[t.name]) if t.name in caps else t for t in tasks]
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
        self.predict_words = predict_words
        self.predict_max_length = predict_max_length
        self.raw: dict[str, dict[str, datasets.Dataset]] = {}  # task -> role -> rows read (see read_splits)
        self.labels: dict[str, list[str]] = {}
        self.tokenizer: Tokenizer | None = None
        self.tokenizer_path: Path | None = None
        self._tokenizer_sha256 = ""  # of self.tokenizer, set with it (see _use_tokenizer)
        self._special_ids = SpecialIds()  # likewise
        self.encoded: dict[str, dict[str, datasets.Dataset]] = {}
        self.words_without_subword: dict[str, dict[str, WordsWithoutSubword]] = {}
        self.predict_rows: datasets.Dataset | None = None
        self._train_loader: MultiTaskTrainLoader | None = None
        self._train_position: dict[str, int] | None = None  # restored, for the next training loader
        # Under DDP a process may get no batch of a small task's evaluation split (see
        # _eval_loaders); Lightning refuses such an empty loader unless told it is meant.
        self.allow_zero_length_dataloader_with_multiple_devices = True

    # -- what the model needs to be built: linked into the module by the CLI ----------
    # (each prepares the data first: see the class docstring)
    @property
    def vocab_size(self) -> int:
        """The tokenizer's vocabulary size, special tokens included."""
        self.prepare()
        return self.tokenizer.get_vocab_size()

    @property
    def task_labels(self) -> dict[str, list[str]]:
        """Every task's label names in index order (the vocabulary for self-supervised tasks)."""
        self.prepare()
        return dict(self.labels)

    @property
    def special_ids(self) -> SpecialIds:
        """The tokenizer's pad, unknown, start, end and mask ids (the model's encoders and
        heads use them; the loaders pad ``input_ids`` with ``pad``)."""
        self.prepare()
        return self._special_ids

    @property
    def vocabulary(self) -> list[str]:
        """The tokenizer's tokens by id (encoders with word vectors look them up)."""
        self.prepare()
        return [self.tokenizer.id_to_token(i) for i in range(self.tokenizer.get_vocab_size())]

    def training_token_counts(self) -> torch.Tensor:
        """How often each token id occurs in the tasks' training text (the text the
        tokenizer is trained on, without the ``[CLS]``/``[SEP]`` of the templates), ``(V,)``."""
        self.prepare()
        counts = torch.zeros(self.tokenizer.get_vocab_size(), dtype=torch.long)  # (V,)
        texts = list(training_text(self.tasks, {name: self.read_splits(name, ["train"]) for name in self.tasks}))
        for start in range(0, len(texts), 1000):
            encodings = self.tokenizer.encode_batch(texts[start : start + 1000], add_special_tokens=False)
            ids = torch.tensor([i for e in encodings for i in e.ids], dtype=torch.long)  # (N,)
            counts += torch.bincount(ids, minlength=len(counts))
        return counts

    # -- preparation -------------------------------------------------------------------
    def prepare(self) -> None:
        """Load every split, settle the label lists and train or load the tokenizer; the
        expensive step, done once (later calls return at once)."""
        if self.tokenizer is not None:
            return
        spec = self.tokenizer_spec
        trains_tokenizer = spec.pretrained is None and not (spec.path is not None and Path(spec.path).is_file())
        for name, task in self.tasks.items():
            if "train" not in task.splits:
                raise DataError(f"task {name!r}: splits {task.splits} has no 'train' role; add `train: <split name>`")
            if trains_tokenizer or (task.labels is None and task.type != "regression" and not task.self_supervised):
                self.read_splits(name, task.splits)  # the training text is needed now
            if task.self_supervised:
                continue  # labels: the vocabulary, below
            self.labels[name] = task.labels if task.labels is not None else self._infer_labels(task)
            if task.type in ("classification", "multilabel") and len(self.labels[name]) < 2:
                raise DataError(f"task {name!r}: found labels {self.labels[name]}; a classifier needs at least 2")
        tokenizer, self.tokenizer_path = run_tokenizer(self.tokenizer_spec, self.tasks, self.raw)
        self._use_tokenizer(tokenizer)

    def read_splits(self, name: str, roles: Iterable[str]) -> dict[str, datasets.Dataset]:
        """Task ``name``'s splits, read on first use: those of ``roles`` not read yet, in one
        load. With a given tokenizer and label lists nothing needs the training split before
        training, so a trained run is tested or predicts without its training files."""
        raw = self.raw.setdefault(name, {})
        missing = [role for role in roles if role not in raw and role in self.tasks[name].splits]
        if missing:
            raw.update(load_task_splits(self.tasks[name], missing))
        return raw

    def _use_tokenizer(self, tokenizer: Tokenizer) -> None:
        """Read text with ``tokenizer``: its vocabulary is the self-supervised tasks' labels,
        and its digest (what checkpoints record) and special ids are taken once here."""
        self.tokenizer = tokenizer
        self._tokenizer_sha256 = tokenizer_digest(tokenizer)
        self._special_ids = special_ids(tokenizer)  # read from the tokenizer's JSON: not at every loader
        vocabulary = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        self.labels = {name: vocabulary if task.self_supervised else self.labels[name] for name, task in self.tasks.items()}

    # -- what a checkpoint records about the data (Lightning saves and restores this) ----
    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint:

        - the tokenizer the model reads text with (its digest and its JSON) and the label
          lists of the labelled tasks: evaluating or resuming from the checkpoint checks
          them (:meth:`load_state_dict`; ``mtl validate/test/predict`` take them from the
          checkpoint beforehand, see :mod:`mtl.trained_run`);
        - the training loader's position (epoch, steps served). Lightning restores a
          resumable loader only when it builds the loader after the checkpoint is read;
          ``trainer.estimated_stepping_batches`` (asked for by ``configure_optimizers``
          when training runs ``max_epochs``) builds it before, and the restored run would
          start the epoch over. The datamodule is restored before either, so its copy of
          the position reaches the loader whenever that is built.
        """
        state: dict[str, Any] = {}
        if self.tokenizer is not None:
            state["tokenizer"] = {
                "sha256": self._tokenizer_sha256,
                "vocab_size": self.tokenizer.get_vocab_size(),
                "json": self.tokenizer.to_str(),
            }
            state["task_labels"] = {n: list(self.labels[n]) for n, task in self.tasks.items() if not task.self_supervised}
        if self._train_loader is not None:
            state["train_loader"] = self._train_loader.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refuses a checkpoint trained with another tokenizer or other label lists than
        this data module's: the model would read other token ids or name its outputs with
        other labels, and be wrong without a sign."""
        self.prepare()
        checkpoint = getattr(self.trainer, "ckpt_path", None) if self.trainer is not None else None
        where = f"checkpoint {str(checkpoint)!r}" if checkpoint else "the checkpoint"
        recorded = (state.get("tokenizer") or {}).get("sha256")
        if recorded is not None and recorded != self._tokenizer_sha256:
            saved = "runs/<name>/version_N/tokenizer.json"
            if checkpoint and Path(str(checkpoint)).parent.name == "checkpoints":
                saved = str(Path(str(checkpoint)).parent.parent / "tokenizer.json")
            raise DataError(
                f"{where} was trained with another tokenizer (sha256 {recorded[:12]}) than the one this run reads "
                f"text with ({str(self.tokenizer_path)!r}, sha256 {self._tokenizer_sha256[:12]}): the token "
                f"ids would mean other words. Set data.tokenizer.path to the trained run's tokenizer ({saved})"
            )
        trained = state.get("task_labels") or {}
        for name, labels in trained.items():
            ours = self.labels.get(name)
            if ours is not None and list(ours) != list(labels):
                raise DataError(
                    f"task {name!r}: {where} was trained with labels {list(labels)}, but the data declares "
                    f"{list(ours)}; the model's outputs mean the checkpoint's labels, so list exactly those, in that "
                    "order, as the task's `labels:`"
                )
        position = state.get("train_loader")
        if position is None:
            return
        if self._train_loader is not None:  # built already (a strategy that restores after setup)
            self._train_loader.load_state_dict(position)
        else:
            self._train_position = dict(position)

    def _infer_labels(self, task: Task) -> list[str]:
        if task.type == "regression":
            return []
        splits = self.raw[task.name]
        labels = infer_labels(task, splits["train"])
        for role, split in splits.items():
            if role != "train" and task.label in split.column_names:
                labels += [label for label in infer_labels(task, split) if label not in labels]
        return labels

    def _use_rank_zero_tokenizer(self) -> None:
        """Under DDP every process encodes with rank 0's tokenizer. Machines with cache
        folders of their own each train one: the same one from the same training text,
        but another one from another copy of the data (or an older cache), and token ids
        that meant different words on each process would silently mix in the averaged
        gradients."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return
        mine = self.tokenizer.to_str()
        text = trainer.strategy.broadcast(mine if trainer.is_global_zero else None)
        if text == mine:
            return
        tokenizer = Tokenizer.from_str(text)
        if tokenizer.get_vocab_size() != self.tokenizer.get_vocab_size():
            raise DataError(
                f"process {trainer.global_rank} trained a tokenizer of {self.tokenizer.get_vocab_size()} tokens, rank 0 "
                f"one of {tokenizer.get_vocab_size()} (each machine trained its own in {cache_dir()}); set "
                "data.tokenizer.path to one tokenizer.json that every machine reads (e.g. rank 0's, or an earlier "
                "run's), or point MTL_CACHE at a folder all machines share"
            )
        log.info(
            "process %d: encoding with rank 0's tokenizer (its own, from %s, differs)", trainer.global_rank, self.tokenizer_path
        )
        self._use_tokenizer(tokenizer)
        self.encoded = {}

    def setup(self, stage: str | None = None) -> None:
        self.prepare()
        self._use_rank_zero_tokenizer()
        if stage in (None, "fit"):
            # a new fit (set up before its checkpoint is read): its loader is built and restored anew
            self._train_loader, self._train_position = None, None
        roles = {"fit": ["train", "validation"], "validate": ["validation"], "test": ["test"], "predict": []}
        wanted = roles.get(stage or "fit", ["train", "validation", "test"])
        for name in self.tasks:
            read = self.read_splits(name, wanted)
            for role in wanted:
                if role in read:
                    self._split(name, role)
        if stage == "predict":
            self.encoded[PREDICT_TASK] = {"predict": self._encode_predict_file()}

    def _encode_predict_file(self) -> datasets.Dataset:
        if self.predict_file is None:
            raise DataError("no inputs to predict; set data.predict_file to a .jsonl, .csv/.tsv or .txt file")
        columns = [self.predict_text] + ([self.predict_text_pair] if self.predict_text_pair else [])
        path = Path(self.predict_file)
        self.predict_rows = rows = read_predict_inputs(path, columns)
        tagging = any(task.type == "tagging" for task in self.tasks.values())
        check_word_lists(rows, path, columns, tagging or self._trained_on_word_lists())
        if tagging and self.predict_words == "whitespace":
            say_attached_punctuation(rows, path, self.predict_text)
        limit, limited_by = self._predict_limit()
        encoder = InputEncoder(self.tokenizer, self.predict_text, self.predict_text_pair, limit, self.predict_words)
        encoded = rows.map(encoder, batched=True, with_indices=True, remove_columns=rows.column_names, desc="Encoding inputs")
        say_what_inputs_lose(encoded, path, columns, limit, limited_by, tagging)
        return encoded

    def _trained_on_word_lists(self) -> bool:
        """Whether a task's training text column holds word lists. A run predicting with
        its training files gone cannot tell, and accepts word lists (read as words)."""
        for name, task in self.tasks.items():
            try:
                train = self.read_splits(name, ["train"])["train"]
            except DataError:  # the training files are gone: predicting from the run alone
                return True
            if isinstance(train.features.get(task.text), (datasets.List, datasets.Sequence)):
                return True
        return False

    def predict_input(self, index: int) -> dict[str, Any]:
        """What the output record of input ``index`` shows of it: ``text`` (and
        ``text_pair``) as read, and ``words``, the words tagged, when a task tags."""
        if self.predict_rows is None:
            return {}
        row = self.predict_rows[index]
        pair = self.predict_text_pair is not None
        tagged = any(task.type == "tagging" for task in self.tasks.values())
        return shown_input(
            row[self.predict_text], row[self.predict_text_pair] if pair else None, self.predict_words, tagged, pair
        )

    def _predict_limit(self) -> tuple[int | None, str]:
        """The most sub-word tokens a prediction input may have, and what sets it:
        ``data.predict_max_length`` or the model's encoder (``None``: no limit)."""
        limits = [(self.predict_max_length, "data.predict_max_length")] if self.predict_max_length else []
        model = self.trainer.lightning_module if self.trainer is not None else None
        for encoder in getattr(model, "task_encoders", {}).values():
            if getattr(encoder, "max_length", None):
                limits.append((encoder.max_length, f"the {type(encoder).__name__}'s max_positions"))
        return min(limits) if limits else (None, "")

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
        loader = MultiTaskTrainLoader(train, plan, self.num_workers, self.special_ids.pad)
        if self._train_position is not None:  # restored from a checkpoint before the loader existed
            loader.load_state_dict(self._train_position)
            self._train_position = None
        self._train_loader = loader
        return loader

    # -- resuming mid-epoch ---------------------------------------------------------------
    def input_groups(self) -> dict[str, str]:
        """Task name to the name of the first task with the same encoder inputs (same
        source, text columns, length limit and training rows)."""
        groups: dict[str, str] = {}
        seen: dict[str, str] = {}
        for name, t in self.tasks.items():
            corrupted = (t.type, t.corruption) if t.self_supervised else None  # its own input
            key = repr(
                (
                    t.source,
                    t.splits.get("train"),
                    t.shuffle_seed,
                    t.text,
                    t.text_pair,
                    t.max_length,
                    t.max_train_examples,
                    corrupted,
                )
            )
            groups[name] = seen.setdefault(key, name)
        return groups

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders([name for name, task in self.tasks.items() if "validation" in task.splits], "validation")

    def test_dataloader(self) -> list[DataLoader]:
        missing = [name for name, task in self.tasks.items() if "test" not in task.splits]
        if missing:
            raise DataError(f"tasks {missing} declare no test split; add `test: <split name>` to their splits")
        return self._eval_loaders(list(self.tasks), "test")

    def predict_dataloader(self) -> DataLoader:
        (loader,) = self._eval_loaders([PREDICT_TASK], "predict")
        return loader

    def _split(self, name: str, role: str) -> datasets.Dataset:
        """The encoded split, encoded on first use."""
        encoded = self.encoded.setdefault(name, {})
        if role not in encoded:
            encoded[role] = encode_split(
                self.read_splits(name, [role])[role], self.tasks[name], self.tokenizer, self.labels[name], role
            )
            self._say_words_without_subword(name, role)
        return encoded[role]

    def _say_words_without_subword(self, name: str, role: str) -> None:
        said = self.words_without_subword.setdefault(name, {})
        found = count_words_without_subword(self.encoded[name][role], name, role)
        if found is not None and role not in said:  # once, even when encoded again with rank 0's tokenizer
            said[role] = found
            warn(found.line())

    def _eval_loaders(self, names: list[str], role: str) -> list[DataLoader]:
        """One loader of length-sorted batches per task (see :func:`evaluation_loaders`)."""
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer is not None else (1, 0)
        splits = {name: self.encoded[name][role] if name == PREDICT_TASK else self._split(name, role) for name in names}
        if world > 1 and role != "predict":
            check_every_process_evaluates(splits, role, world)
        return evaluation_loaders(splits, self.eval_batch_size, world, rank, self.special_ids.pad, self.num_workers, self.seed)
