"""Evaluation batches split across processes without padding."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Dataset, DistributedSampler


class ShardSampler(DistributedSampler):
    """Process ``rank`` takes the batches ``i`` with ``(offset + i) % num_replicas == rank``:
    every batch is evaluated exactly once over all processes.

    ``offset`` is the number of batches of the loaders before this one (the earlier
    tasks'), so the batches of all tasks are dealt round-robin as one sequence: a task
    with fewer batches than processes (a one-row validation split) leaves some processes
    without any of its batches, but no process without any evaluation batch at all as
    long as all tasks together have a batch per process.

    PyTorch's ``DistributedSampler`` (which Lightning would otherwise insert) repeats
    items to give every process the same count, so the duplicated batches would count
    twice in the reduced validation metrics. Being a ``DistributedSampler`` itself, this
    one is left in place by Lightning. Processes may then see different numbers of
    batches, none at all of some task, so evaluation logs no per-step collective (see
    :class:`mtl.evaluation.TaskEvaluation`).
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, offset: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        self.offset = offset

    def _indices(self) -> range:
        return range((self.rank - self.offset) % self.num_replicas, len(self.dataset), self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())
