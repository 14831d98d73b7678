"""Input corruption of the self-supervised task types: rates, distances, special tokens,
determinism, and a separate encoder input from labelled tasks over the same text."""

from __future__ import annotations

import random

from mtl.contracts import IGNORE_INDEX
from mtl.data.corruption import Corruption, corrupt_for_denoising, mask_for_mlm
from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.task import Task

CLS, SEP, MASK = 2, 3, 4
SPECIAL = {0, CLS, SEP, MASK}


def sentence(n: int) -> list[int]:
    return [CLS, *range(10, 10 + n), SEP]


def test_local_shuffling_moves_no_token_further_than_the_distance() -> None:
    ids = sentence(40)
    for seed in range(20):
        out = corrupt_for_denoising(ids, SPECIAL, MASK, Corruption(mask=0.0, shuffle=3), random.Random(seed))
        assert out[0] == CLS and out[-1] == SEP and sorted(out) == sorted(ids)
        assert max(abs(out.index(t) - ids.index(t)) for t in ids) <= 3
    assert corrupt_for_denoising(ids, SPECIAL, MASK, Corruption(mask=0.0, shuffle=0), random.Random(0)) == ids


def test_masking_and_deletion_follow_their_rates() -> None:
    ids, rng = sentence(1000), random.Random(0)
    masked = corrupt_for_denoising(ids, SPECIAL, MASK, Corruption(mask=0.3), rng)
    assert len(masked) == len(ids) and 0.26 < masked.count(MASK) / 1000 < 0.34
    kept = corrupt_for_denoising(ids, SPECIAL, MASK, Corruption(mask=0.0, delete=0.2), rng)
    assert 0.76 < (len(kept) - 2) / 1000 < 0.84 and kept[0] == CLS and kept[-1] == SEP
    one = corrupt_for_denoising(sentence(3), SPECIAL, MASK, Corruption(mask=0.0, delete=1.0), rng)
    assert len(one) == 3  # one word always survives


def test_mlm_masks_predicts_and_replaces_like_bert() -> None:
    ids = sentence(2000)
    inputs, labels = mask_for_mlm(ids, SPECIAL, MASK, 5000, Corruption(mask=0.5, random_token=0.1), random.Random(0))
    chosen = [i for i, t in enumerate(labels) if t != IGNORE_INDEX]
    assert 0.45 < len(chosen) / 2000 < 0.55 and labels[0] == labels[-1] == IGNORE_INDEX
    assert all(labels[i] == ids[i] for i in chosen)
    masked = sum(inputs[i] == MASK for i in chosen) / len(chosen)
    kept = sum(inputs[i] == ids[i] for i in chosen) / len(chosen)
    assert 0.75 < masked < 0.85 and 0.06 < kept < 0.14
    assert all(inputs[i] == ids[i] for i in range(len(ids)) if i not in set(chosen))
    assert all(t not in SPECIAL for i, t in enumerate(inputs) if i in set(chosen) and t != MASK)


def test_a_self_supervised_task_reads_its_own_input_beside_a_labelled_task_over_the_same_text() -> None:
    source = {"path": "synthetic", "train": 40, "validation": 0, "test": 0}
    tasks = [Task("topic", "classification", source, label="topic"), Task("dae", "denoising", source)]
    data = MultiTaskDataModule(tasks, sampling="all")
    assert data.input_groups() == {"topic": "topic", "dae": "dae"}
