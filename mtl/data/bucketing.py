"""Length-bucketed batches: similar lengths together, so little compute goes to padding."""

from __future__ import annotations

import random


def bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random, bucket_batches: int = 50) -> list[list[int]]:
    """Shuffle, cut into buckets of ``batch_size * bucket_batches`` rows, sort each bucket
    by length, cut it into batches, and shuffle the batch order.

    Every row appears exactly once. A final batch of fewer than ``batch_size / 2`` rows
    joins the batch before it, so no batch is tiny (and, split over processes, none is
    empty); the rule depends only on ``batch_size``, so one process with batch ``2B``
    sees the same batches as two processes with ``B`` each.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * max(1, bucket_batches)
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        bucket = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size))
    if len(batches) > 1 and 2 * len(batches[-1]) < batch_size:
        batches[-2].extend(batches.pop())
    rng.shuffle(batches)
    return batches


def batches_per_pass(rows: int, batch_size: int) -> int:
    """How many batches :func:`bucketed_batches` makes of ``rows`` rows."""
    full, rest = divmod(rows, batch_size)
    return full + (1 if rest and (2 * rest >= batch_size or full == 0) else 0)


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches of rows sorted by length (for evaluation and prediction)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
