"""The training iterable: one ``{task: batch}`` dict per optimiser step."""

from __future__ import annotations

import random
from collections.abc import Iterator

import datasets
import torch
from torch.utils.data import DataLoader, Dataset

from mtl.contracts import SpecialIds, TaskBatch
from mtl.data.bucketing import batches_per_pass, bucketed_batches
from mtl.data.collate import collate
from mtl.data.sampling import TaskSampler


def own_generator(seed: int) -> torch.Generator:
    """A generator for a ``DataLoader``: without one, every new iterator draws its worker
    seed from the global random state, which would shift dropout masks after a resume."""
    return torch.Generator().manual_seed(seed)


class StepPlan:
    """Decides, for every step of an epoch, which tasks train and which rows this process
    takes. Deterministic in ``(seed, epoch)`` and identical on every process: all ranks
    train the same tasks at the same step (so no rank waits on a collective the others
    skip), each on its own slice of one global batch of ``batch_size * world_size`` rows.

    Tasks in the same ``group`` (tasks over the same rows, e.g. several tag columns of
    one treebank) draw from one shared stream when every task trains at every step
    (``sampling: all``): they then get the same rows at each step, and the module runs
    the encoder once for all of them.

    Lightning calls ``set_epoch`` at the start of every epoch.
    """

    def __init__(
        self,
        lengths: dict[str, list[int]],
        batch_size: int,
        sampler: TaskSampler,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        bucket_batches: int = 50,
        groups: dict[str, str] | None = None,
    ) -> None:
        self.lengths = lengths
        self.groups = groups if groups is not None and sampler.strategy == "all" else {name: name for name in lengths}
        self.batch_size = batch_size
        self.sampler = sampler
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.bucket_batches = bucket_batches
        self.epoch = 0
        self.sizes = {name: len(rows) for name, rows in lengths.items()}
        small = {name: n for name, n in self.sizes.items() if n < world_size}
        if small:
            raise ValueError(
                f"tasks {small} have fewer training rows than the {world_size} processes; add data or use fewer devices"
            )
        self.num_batches = {name: batches_per_pass(n, batch_size * world_size) for name, n in self.sizes.items()}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.sampler.num_steps(self.num_batches)

    def steps(self) -> list[dict[str, list[int]]]:
        """This rank's rows for every step of the current epoch: ``[{task: row ids}]``."""
        schedule = self.sampler.schedule(self.sizes, self.num_batches, self.epoch, self._rng("schedule"))
        streams = {group: self._stream(group) for group in dict.fromkeys(self.groups.values())}
        steps = []
        for tasks in schedule:
            rows = {
                group: next(streams[group])[self.rank :: self.world_size]
                for group in dict.fromkeys(self.groups[t] for t in tasks)
            }
            steps.append({name: rows[self.groups[name]] for name in tasks})
        return steps

    def _stream(self, name: str) -> Iterator[list[int]]:
        """Global batches of one task, reshuffled each time the task's rows run out."""
        rng = self._rng(name)
        global_batch = self.batch_size * self.world_size
        while True:
            yield from bucketed_batches(self.lengths[name], global_batch, rng, self.bucket_batches)

    def _rng(self, what: str) -> random.Random:
        return random.Random(f"{self.seed}/{self.epoch}/{what}")


class _Steps(Dataset):
    def __init__(
        self, data: dict[str, datasets.Dataset], steps: list[dict[str, list[int]]], groups: dict[str, str], pad_id: int
    ) -> None:
        self.data, self.steps, self.groups, self.pad_id = data, steps, groups, pad_id

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> dict[str, TaskBatch]:
        batches: dict[str, TaskBatch] = {}
        shared: dict[str, TaskBatch] = {}
        for name, rows in self.steps[i].items():
            batch = collate(self.data[name][rows], name, self.pad_id)
            group = self.groups[name]
            if group in shared:  # same rows as an earlier task of the group: one encoder input
                batch.update({k: shared[group][k] for k in ("input_ids", "attention_mask", "token_type_ids")})
            shared.setdefault(group, batch)
            batch["group"] = group
            batches[name] = batch
        return batches


class MultiTaskTrainLoader:
    """Yields ``{task: batch}`` for each step of the epoch planned by ``sampler``.

    Resumable: ``state_dict`` records the epoch and the number of steps served, and after
    ``load_state_dict`` the next epoch's iteration starts where the saved one stopped.
    """

    def __init__(
        self, data: dict[str, datasets.Dataset], sampler: StepPlan, num_workers: int = 0, pad_id: int = SpecialIds().pad
    ) -> None:
        self.data = data
        self.sampler = sampler
        self.num_workers = num_workers
        self.pad_id = pad_id
        self._position = 0
        self._resume_at = 0

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict[str, TaskBatch]]:
        start, self._resume_at = self._resume_at, 0
        steps = self.sampler.steps()[start:]
        loader = DataLoader(
            _Steps(self.data, steps, self.sampler.groups, self.pad_id),
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=False,
            generator=own_generator(self.sampler.seed),
        )
        self._position = start
        for batch in loader:
            self._position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "position": self._position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(state["epoch"])
        self._resume_at = state["position"] if state["position"] < len(self) else 0
