"""Task groupings from an inter-task affinity matrix, chosen as TAG chooses them.

Fifty et al., "Efficiently Identifying Task Groupings in Multi-Task Networks" (NeurIPS
2021): a group's affinity onto one of its tasks ``j`` is the mean of ``Z[i][j]`` over the
other tasks ``i`` of the group (``Z[i][j]``: how much a step on task ``i`` lowered task
``j``'s loss, see :class:`mtl.callbacks.TaskAffinity`); a task alone gets 0. A partition's
score is the sum of that over every task: the total within-group affinity. For each
number of groups ``k`` the best partition (each task in exactly one group) is found by
trying every partition when there are at most :data:`EXHAUSTIVE_UP_TO` tasks, else by
greedily merging the two groups whose merge scores best.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

#: Up to this many tasks every partition is scored (Bell(10) = 115 975 partitions).
EXHAUSTIVE_UP_TO = 10


@dataclass(frozen=True)
class Grouping:
    """The best partition of the tasks into ``len(groups)`` groups and its score."""

    groups: tuple[tuple[str, ...], ...]
    score: float
    exhaustive: bool = True

    def describe(self) -> str:
        """``{a, b} {c}  score +0.123`` (``greedy`` appended when not every partition was tried)."""
        groups = " ".join("{" + ", ".join(group) + "}" for group in self.groups)
        return f"{groups}  score {self.score:+.3g}" + ("" if self.exhaustive else "  (greedy)")


def group_score(affinity: Sequence[Sequence[float]], group: Sequence[int]) -> float:
    """Sum over the tasks ``j`` of ``group`` of the mean ``affinity[i][j]`` over the
    group's other tasks ``i``; 0 for a task alone."""
    if len(group) < 2:
        return 0.0
    return sum(sum(affinity[i][j] for i in group if i != j) / (len(group) - 1) for j in group)


def best_groupings(tasks: Sequence[str], affinity: Sequence[Sequence[float]]) -> list[Grouping]:
    """The best partition into ``k`` groups for ``k = 1 .. T-1`` (one task: ``k = 1``).

    Args:
        tasks: the ``T`` task names, in the order of the matrix's rows and columns.
        affinity: ``(T, T)``: ``affinity[i][j]`` is the affinity of task ``i`` onto task ``j``.
    """
    n = len(tasks)
    if any(len(row) != n for row in affinity) or len(affinity) != n:
        raise ValueError(f"the affinity matrix must be {n} x {n} for tasks {list(tasks)}")
    if n == 0:
        return []
    found = _exhaustive(affinity, n) if n <= EXHAUSTIVE_UP_TO else _greedy(affinity, n)
    return [
        Grouping(tuple(tuple(tasks[i] for i in block) for block in found[k][1]), found[k][0], n <= EXHAUSTIVE_UP_TO)
        for k in range(1, max(2, n))
    ]


Partition = tuple[tuple[int, ...], ...]


def _exhaustive(affinity: Sequence[Sequence[float]], n: int) -> dict[int, tuple[float, Partition]]:
    """The best-scoring partition for every number of groups, over all partitions."""
    scores: dict[tuple[int, ...], float] = {}
    best: dict[int, tuple[float, Partition]] = {}
    for partition in _partitions(n):
        score = 0.0
        for block in partition:
            if block not in scores:
                scores[block] = group_score(affinity, block)
            score += scores[block]
        k = len(partition)
        if k not in best or score > best[k][0] + 1e-12:
            best[k] = (score, partition)
    return best


def _partitions(n: int) -> Iterator[Partition]:
    """Every partition of ``0 .. n-1``, blocks in order of their first element."""

    def extend(i: int, blocks: list[list[int]]) -> Iterator[Partition]:
        if i == n:
            yield tuple(tuple(block) for block in blocks)
            return
        for block in blocks:
            block.append(i)
            yield from extend(i + 1, blocks)
            block.pop()
        blocks.append([i])
        yield from extend(i + 1, blocks)
        blocks.pop()

    yield from extend(0, [])


def _greedy(affinity: Sequence[Sequence[float]], n: int) -> dict[int, tuple[float, Partition]]:
    """From one group per task, merge the two groups whose merge raises the score most
    (or lowers it least), recording each number of groups on the way."""
    blocks = [(i,) for i in range(n)]
    best: dict[int, tuple[float, Partition]] = {n: (0.0, tuple(blocks))}
    while len(blocks) > 1:
        gains = [
            (group_score(affinity, a + b) - group_score(affinity, a) - group_score(affinity, b), x, y)
            for x, a in enumerate(blocks)
            for y, b in enumerate(blocks)
            if x < y
        ]
        _, x, y = max(gains)
        blocks = [b for z, b in enumerate(blocks) if z not in (x, y)] + [tuple(sorted(blocks[x] + blocks[y]))]
        blocks.sort()
        best[len(blocks)] = (sum(group_score(affinity, b) for b in blocks), tuple(blocks))
    return best
