"""Length bucketing: a permutation of the rows, batches of similar length."""

from __future__ import annotations

import random

from mtl.data.bucketing import bucketed_batches, sorted_batches


def random_lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 200) for _ in range(n)]


def spread(lengths: list[int], batches: list[list[int]]) -> float:
    """Mean over batches of (longest - shortest)."""
    return sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)


def test_every_row_appears_exactly_once() -> None:
    lengths = random_lengths(1003)
    batches = bucketed_batches(lengths, 8, random.Random(0), bucket_batches=10)
    rows = [i for b in batches for i in b]
    assert sorted(rows) == list(range(1003))
    # 12 full buckets of 80 rows = 120 batches, then 43 rows = 5 batches of 8 and 3 left
    # over; 3 < 8 / 2, so those join the batch before them: 125 batches, one of 11 rows.
    assert len(batches) == 125
    assert sorted(len(b) for b in batches)[-2:] == [8, 11]


def test_small_inputs() -> None:
    assert bucketed_batches([], 4, random.Random(0)) == []
    assert bucketed_batches([5], 4, random.Random(0)) == [[0]]
    assert sorted(bucketed_batches([3, 1, 2], 2, random.Random(0))) == [[0], [1, 2]]  # by length: rows 1, 2 | 0


def test_batches_are_length_homogeneous() -> None:
    lengths = random_lengths(2000, seed=1)
    rng = random.Random(0)
    bucketed = bucketed_batches(lengths, 16, rng, bucket_batches=50)
    order = list(range(2000))
    random.Random(0).shuffle(order)
    unbucketed = [order[i : i + 16] for i in range(0, 2000, 16)]
    assert spread(lengths, unbucketed) > 150  # 16 uniform draws from 1..200
    assert spread(lengths, bucketed) < 10  # sorted buckets of 800 rows: about 200 / 50 per batch
    assert max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in bucketed) <= 20


def test_bucket_batches_one_is_plain_shuffled_batching() -> None:
    lengths = random_lengths(400, seed=2)
    batches = bucketed_batches(lengths, 16, random.Random(0), bucket_batches=1)
    assert sorted(i for b in batches for i in b) == list(range(400))
    assert spread(lengths, batches) > 100  # no longer homogeneous


def test_seeded_and_shuffled() -> None:
    lengths = random_lengths(300, seed=3)
    a = bucketed_batches(lengths, 8, random.Random(5), bucket_batches=4)
    assert bucketed_batches(lengths, 8, random.Random(5), bucket_batches=4) == a
    assert bucketed_batches(lengths, 8, random.Random(6), bucket_batches=4) != a
    # batch order is shuffled, not by length
    firsts = [lengths[b[0]] for b in a]
    assert firsts != sorted(firsts)


def test_sorted_batches() -> None:
    lengths = [5, 1, 4, 1, 3, 9, 2]
    assert sorted_batches(lengths, 3) == [[1, 3, 6], [4, 2, 0], [5]]
    lengths = random_lengths(101, seed=4)
    batches = sorted_batches(lengths, 10)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(101))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert [len(b) for b in batches] == [10] * 10 + [1]
