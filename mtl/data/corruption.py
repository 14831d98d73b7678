"""Input corruption for the self-supervised task types ``denoising`` and ``mlm``.

The encoder reads the corrupted ids; the original ids (``denoising``) or the ids at the
masked positions (``mlm``) become the labels. Corruption is drawn per row from
``random.Random(f"{seed}/{split}/{row}")``, so a seed always gives the same corrupted
corpus, on every process and after a resume (it is fixed per row, not redrawn per epoch).
Special tokens (``[CLS]``, ``[SEP]``) are never corrupted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mtl.contracts import IGNORE_INDEX
from mtl.data.errors import DataError


@dataclass
class Corruption:
    """How the input of a ``denoising`` or ``mlm`` task is corrupted.

    Args:
        mask: probability that a token is replaced by ``[MASK]`` (``denoising``), or is
            chosen for prediction (``mlm``; at least one per row).
        delete: probability that a token is deleted (``denoising`` only).
        shuffle: local shuffling distance: every token moves at most this many
            positions (``denoising`` only; 0 keeps the order).
        random_token: ``mlm`` only: share of the chosen tokens replaced by a random
            token instead of ``[MASK]``; another ``random_token`` share keeps the
            original token (BERT's 80/10/10 with the default 0.1).
        seed: seed of the corruption.
    """

    mask: float = 0.15
    delete: float = 0.0
    shuffle: int = 0
    random_token: float = 0.1
    seed: int = 0

    def check(self, task: str, kind: str) -> None:
        """Raise a readable error for rates outside ``[0, 1]`` or options ``kind`` ignores."""
        for name in ("mask", "delete", "random_token"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise DataError(f"task {task!r}: corruption.{name}={value} must lie in [0, 1]")
        if self.shuffle < 0:
            raise DataError(f"task {task!r}: corruption.shuffle={self.shuffle} must be >= 0 (a distance in tokens)")
        if kind == "mlm" and (self.delete or self.shuffle):
            raise DataError(
                f"task {task!r}: an mlm task predicts tokens in place, so corruption.delete and corruption.shuffle "
                "must be 0; use type: denoising to reconstruct deleted or shuffled tokens"
            )
        if kind == "mlm" and not 0.0 < self.mask:
            raise DataError(f"task {task!r}: an mlm task needs corruption.mask > 0 (the share of tokens to predict)")
        if kind == "mlm" and 2 * self.random_token > 1.0:
            raise DataError(f"task {task!r}: corruption.random_token={self.random_token} must be at most 0.5")

    def rng(self, split: str, row: int) -> random.Random:
        return random.Random(f"{self.seed}/{split}/{row}")


def corrupt_for_denoising(ids: list[int], special: set[int], mask_id: int, spec: Corruption, rng: random.Random) -> list[int]:
    """Shuffle locally, then delete, then mask the non-special tokens of ``ids`` (one
    segment: ``[CLS] text [SEP]``); the special tokens keep their places at both ends.
    At least one non-special token survives deletion."""
    start = 0
    while start < len(ids) and ids[start] in special:
        start += 1
    stop = len(ids)
    while stop > start and ids[stop - 1] in special:
        stop -= 1
    tokens = ids[start:stop]
    if spec.shuffle > 0:
        keys = [pos + rng.uniform(0, spec.shuffle + 1) for pos in range(len(tokens))]
        tokens = [t for _, t in sorted(zip(keys, tokens), key=lambda pair: pair[0])]
    if spec.delete > 0 and tokens:
        kept = [t for t in tokens if rng.random() >= spec.delete]
        tokens = kept or [tokens[rng.randrange(len(tokens))]]
    tokens = [mask_id if t not in special and rng.random() < spec.mask else t for t in tokens]
    return ids[:start] + tokens + ids[stop:]


def mask_for_mlm(
    ids: list[int], special: set[int], mask_id: int, vocab_size: int, spec: Corruption, rng: random.Random
) -> tuple[list[int], list[int]]:
    """BERT-style masking: choose non-special positions with probability ``spec.mask``
    (at least one); replace each by ``[MASK]``, a random token or itself. Returns the
    corrupted ids and the labels (the original id at chosen positions, ``-100`` elsewhere)."""
    candidates = [i for i, t in enumerate(ids) if t not in special]
    chosen = [i for i in candidates if rng.random() < spec.mask]
    if not chosen and candidates:
        chosen = [candidates[rng.randrange(len(candidates))]]
    inputs, labels = list(ids), [IGNORE_INDEX] * len(ids)
    for i in chosen:
        labels[i] = ids[i]
        draw = rng.random()
        if draw < spec.random_token:
            inputs[i] = _ordinary_token(special, vocab_size, rng)
        elif draw >= 2 * spec.random_token:
            inputs[i] = mask_id
    return inputs, labels


def _ordinary_token(special: set[int], vocab_size: int, rng: random.Random) -> int:
    """A uniformly drawn id that is not a special token."""
    while True:
        token = rng.randrange(vocab_size)
        if token not in special:
            return token
