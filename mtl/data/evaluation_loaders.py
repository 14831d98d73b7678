"""Validation, test and prediction loaders: length-sorted batches formed once, and under
DDP dealt whole to the processes, every row counted once."""

from __future__ import annotations

import datasets
from torch.utils.data import DataLoader, Dataset

from mtl.contracts import TaskBatch
from mtl.data.bucketing import sorted_batches
from mtl.data.collate import collate
from mtl.data.errors import DataError
from mtl.data.loader import own_generator
from mtl.data.shard_sampler import ShardSampler


def evaluation_loaders(
    splits: dict[str, datasets.Dataset], batch_size: int, world: int, rank: int, pad_id: int, num_workers: int, seed: int | None
) -> list[DataLoader]:
    """One loader of length-sorted batches per task of ``splits``. Under DDP (``world``
    processes) the batches of all the tasks are dealt to the processes round-robin as one
    sequence (see :class:`ShardSampler`), each batch to one process: every row is counted
    once, and a process may get no batch of a small task (its loader is then empty) but
    always some evaluation batch."""
    loaders, offset = [], 0
    for name, split in splits.items():
        # Small splits get smaller batches: a split of at least `world` rows has a batch for every process.
        size = max(1, min(batch_size, len(split) // world))
        dataset = Batches(split, sorted_batches(split["length"], size), name, pad_id)
        loaders.append(
            DataLoader(
                dataset,
                batch_size=None,
                sampler=ShardSampler(dataset, world, rank, offset) if world > 1 else None,
                num_workers=num_workers,
                generator=own_generator(seed),
            )
        )
        offset += len(dataset)
    return loaders


def check_every_process_evaluates(splits: dict[str, datasets.Dataset], role: str, world: int) -> None:
    """Every process must evaluate some batch: one without any skips the evaluation
    loop, and with it the metrics' reduction that the others then wait in forever."""
    rows = sum(len(split) for split in splits.values())
    if rows < world:
        sizes = ", ".join(f"{name}: {len(split)}" for name, split in splits.items())
        raise DataError(
            f"the {role} splits have {rows} rows in all ({sizes}) for {world} processes; every process needs at "
            f"least one row to evaluate. Add {role} rows, or run on at most {rows} processes "
            "(--trainer.devices, --trainer.num_nodes)"
        )


class Batches(Dataset):
    """Pre-formed evaluation batches (lists of row indices into ``split``), collated with
    ``pad_id`` when read."""

    def __init__(self, split: datasets.Dataset, batches: list[list[int]], task: str, pad_id: int) -> None:
        self.split, self.batches, self.task, self.pad_id = split, batches, task, pad_id

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> TaskBatch:
        return collate(self.split[self.batches[i]], self.task, self.pad_id)
