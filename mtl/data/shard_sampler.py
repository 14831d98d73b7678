"""Evaluation batches split across processes without padding."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Dataset, DistributedSampler


class ShardSampler(DistributedSampler):
    """Process ``rank`` takes batches ``rank, rank + world_size, ...``: every batch is
    evaluated exactly once over all processes.

    PyTorch's ``DistributedSampler`` (which Lightning would otherwise insert) repeats
    items to give every process the same count, so the duplicated batches would count
    twice in the reduced validation metrics. Being a ``DistributedSampler`` itself, this
    one is left in place by Lightning. Processes may then see different numbers of
    batches, so evaluation logs no per-step collective (see ``MultiTaskModule``).
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))
