"""The multi-task network: encoders, one head per task, hard or soft sharing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from mtl.contracts import SpecialIds, TaskBatch
from mtl.data.errors import DataError
from mtl.encoders.base import Encoder, encode_batch
from mtl.encoders.output import EncoderOutput
from mtl.heads.base import TaskHead
from mtl.sharing.base import Alignment
from mtl.transfer.transfer import Transfer

EncoderFactory = Callable[[int], Encoder]
HeadFactory = Callable[[int, list[str]], TaskHead]


class MultiTaskModel(nn.Module):
    """Every task's head reads an encoder: the one shared encoder (hard sharing), or its
    own copy of it (soft sharing, when ``alignment`` compares separate encoders).

    Args:
        encoder: the shared encoder, already built (and loaded, for transfer); under soft
            sharing the first task keeps it and every other task gets a deep copy.
        heads: task name to its head, built for ``encoder.out_dim``.
        alignment: a distance-based alignment penalty (see :mod:`mtl.sharing`), or None.
        special_ids: the tokenizer's special ids (the encoder's padding row, the ids heads
            read or write); mtl's own by default.
    """

    def __init__(
        self,
        encoder: Encoder,
        heads: dict[str, TaskHead],
        alignment: Alignment | None = None,
        special_ids: SpecialIds | None = None,
    ) -> None:
        super().__init__()
        self.alignment = alignment
        self.special_ids = special_ids or SpecialIds()
        if alignment is not None and alignment.needs_separate_encoders:
            self.encoder = None
            self.encoders = nn.ModuleDict({n: encoder if i == 0 else copy.deepcopy(encoder) for i, n in enumerate(heads)})
        else:
            self.encoder = encoder
            self.encoders = None
        self.heads = nn.ModuleDict(heads)
        #: the embedding rows that started from word vectors, ``(V,)`` bool (see
        #: :meth:`Encoder.use_vocabulary`); None without word vectors or when loaded
        self.vector_rows: Tensor | None = None

    @classmethod
    def build(
        cls,
        encoder: EncoderFactory,
        heads: Mapping[str, HeadFactory],
        vocab_size: int,
        task_labels: dict[str, list[str]] | None,
        alignment: Alignment | None = None,
        transfer: Transfer | None = None,
        special_ids: SpecialIds | None = None,
        vocabulary: list[str] | None = None,
    ) -> MultiTaskModel:
        """The model for the data's vocabulary and labels, from factories (see
        :class:`mtl.module.MultiTaskModule`); a ``transfer`` loads the encoder (before soft
        sharing copies it) and chooses the layers that train. ``vocabulary`` (the tokens by
        id, given for a new model only) goes to :meth:`Encoder.use_vocabulary` (word vectors)."""
        if vocab_size < 1:
            raise ValueError("vocab_size must be the tokenizer's vocabulary size (the CLI takes it from the data)")
        if task_labels is None:
            raise ValueError("task_labels must map every task to its label names (the CLI takes them from the data)")
        if set(heads) != set(task_labels):
            raise ValueError(
                f"model.heads names tasks {sorted(heads)} but the data declares {sorted(task_labels)}; "
                "give exactly one head per task, keyed by the task's name"
            )
        special_ids = special_ids or SpecialIds()
        shared = encoder(vocab_size, padding_idx=special_ids.pad)
        vector_rows = shared.use_vocabulary(vocabulary) if vocabulary is not None else None
        if transfer is not None:
            transfer.load_encoder(shared)
        built = {name: heads[name](shared.out_dim, task_labels[name]) for name in task_labels}
        for head in built.values():
            head.set_special_ids(special_ids)
        model = cls(shared, built, alignment, special_ids)
        model.vector_rows = vector_rows
        if transfer is not None:
            transfer.apply(model.task_encoders)
        return model

    def check_label_types(self, tasks: Mapping[str, Any]) -> None:
        """Refuses a head that does not read its task's labels (``tasks``: name to
        :class:`mtl.data.Task`)."""
        for name, task in tasks.items():
            head = self.heads[name]
            if head.label_type != task.label_type:
                raise ValueError(
                    f"task {name!r} is a {task.type} task but its head {type(head).__name__} expects "
                    f"label_type {head.label_type!r}; choose a head for {task.type}"
                )

    def check_lengths(self, tasks: Mapping[str, Any]) -> None:
        """Refuses a task whose ``max_length`` is more than its encoder reads (a pretrained
        model's positions), before any step: else the first long batch would fail."""
        for name, task in tasks.items():
            limit = self.encoder_for(name).max_length
            if limit is not None and task.max_length > limit:
                raise DataError(
                    f"task {name!r}: max_length {task.max_length} is more than its encoder "
                    f"{type(self.encoder_for(name)).__name__} reads ({limit} tokens); set the task's max_length to at most {limit}"
                )

    def encoder_for(self, task: str) -> Encoder:
        """The encoder ``task`` reads: the shared one, or its own under soft sharing."""
        return self.encoder if self.encoders is None else self.encoders[task]

    @property
    def task_encoders(self) -> dict[str, Encoder]:
        return {task: self.encoder_for(task) for task in self.heads}

    def encode(self, batch: TaskBatch, task: str) -> EncoderOutput:
        return encode_batch(self.encoder_for(task), batch)

    def forward(self, batch: TaskBatch, task: str) -> Tensor:
        """The logits of ``task`` for one of its batches."""
        return self.heads[task](self.encode(batch, task), batch)

    def encode_step(self, batch: dict[str, TaskBatch]) -> dict[str, EncoderOutput]:
        """Encoder outputs of one step's task batches; tasks of one input ``group`` (same
        rows, see :class:`mtl.data.loader.StepPlan`) reading the same encoder share a
        single encoder pass."""
        done: dict[tuple[str, int], EncoderOutput] = {}
        outputs = {}
        for task, b in batch.items():
            key = (b.get("group", task), id(self.encoder_for(task)))
            if key not in done:
                done[key] = self.encode(b, task)
            outputs[task] = done[key]
        return outputs

    def task_losses(self, batch: dict[str, TaskBatch]) -> tuple[dict[str, Tensor], dict[str, EncoderOutput]]:
        """Every task's loss on its batch of the step, and the encoder outputs they read."""
        encoded = self.encode_step(batch)
        losses = {task: self.heads[task].loss(self.heads[task](encoded[task], b), b) for task, b in batch.items()}
        return losses, encoded

    def alignment_penalty(self, encoded: dict[str, EncoderOutput]) -> Tensor | None:
        """The alignment penalty of one step (None without alignment)."""
        return None if self.alignment is None else self.alignment(self.task_encoders, encoded)
