"""The step plan (which tasks and rows at each step, on every process) and the resumable
training loader built on it."""

from __future__ import annotations

import random
from typing import Any

import datasets
import pytest
import torch

from mtl.data.bucketing import batches_per_pass
from mtl.data.loader import MultiTaskTrainLoader, StepPlan
from mtl.data.sampling import TaskSampler

SIZES = {"a": 37, "b": 23}  # neither leaves a one-row global batch at batch 4 or 8


def random_lengths(sizes: dict[str, int], seed: int = 0) -> dict[str, list[int]]:
    rng = random.Random(seed)
    return {name: [rng.randint(3, 30) for _ in range(n)] for name, n in sizes.items()}


def plan(
    strategy: str = "proportional", batch_size: int = 4, seed: int = 0, sizes: dict[str, int] = SIZES, **kwargs: Any
) -> StepPlan:
    return StepPlan(random_lengths(sizes), batch_size, TaskSampler(strategy), seed=seed, bucket_batches=2, **kwargs)  # type: ignore[arg-type]


def test_same_seed_and_epoch_same_steps() -> None:
    first = plan().steps()
    assert plan().steps() == first
    assert plan().steps() == plan().steps()
    assert len(first) == 9 + 6  # 37 = 9 * 4 + 1 (the 1 joins a batch); 23 = 5 * 4 + 3 (a sixth batch)
    assert all(len(step) == 1 for step in first)
    assert {name for step in first for name in step} == {"a", "b"}


def test_other_epoch_or_seed_changes_the_order() -> None:
    p = plan()
    epoch0 = p.steps()
    p.set_epoch(1)
    epoch1 = p.steps()
    assert epoch1 != epoch0
    p.set_epoch(0)
    assert p.steps() == epoch0
    assert plan(seed=1).steps() != epoch0


def test_batches_are_at_most_batch_size() -> None:
    for step in plan().steps():
        for rows in step.values():
            assert 2 <= len(rows) <= 4 + 1  # a final row or two join the batch before them


@pytest.mark.parametrize("strategy", ["proportional", "round_robin", "all", "temperature"])
def test_two_ranks_split_the_one_process_global_batch(strategy: str) -> None:
    full = plan(strategy, batch_size=8).steps()
    rank0 = plan(strategy, batch_size=4, rank=0, world_size=2).steps()
    rank1 = plan(strategy, batch_size=4, rank=1, world_size=2).steps()
    assert len(rank0) == len(rank1) == len(full) == len(plan(strategy, batch_size=4, world_size=2))
    for step0, step1, global_step in zip(rank0, rank1, full):
        assert list(step0) == list(step1) == list(global_step)  # same tasks, same order
        for name, rows in global_step.items():
            assert not set(step0[name]) & set(step1[name])
            assert sorted(step0[name] + step1[name]) == sorted(rows)
            assert step0[name] == rows[0::2] and step1[name] == rows[1::2]
            assert 1 <= len(step1[name]) <= len(step0[name]) <= 4


def test_two_ranks_match_one_process_when_a_single_row_is_left_over() -> None:
    sizes = {"a": 17}  # 17 = 2 * 8 + 1
    full = plan("round_robin", batch_size=8, sizes=sizes).steps()
    rank0 = plan("round_robin", batch_size=4, sizes=sizes, rank=0, world_size=2).steps()
    rank1 = plan("round_robin", batch_size=4, sizes=sizes, rank=1, world_size=2).steps()
    assert [sorted(s0["a"] + s1["a"]) for s0, s1 in zip(rank0, rank1)] == [sorted(s["a"]) for s in full]
    assert all(s0["a"] and s1["a"] for s0, s1 in zip(rank0, rank1)), "a rank got an empty batch"
    assert sorted(r for s in full[:2] for r in s["a"]) == list(range(17)), "the short tail joins a full batch"


def rows_per_task(steps: list[dict[str, list[int]]], counts: dict[str, int]) -> dict[str, list[int]]:
    """The rows of the first ``counts[name]`` batches of each task."""
    seen: dict[str, list[list[int]]] = {name: [] for name in counts}
    for step in steps:
        for name, rows in step.items():
            seen.setdefault(name, []).append(rows)
    return {name: [r for batch in seen[name][: counts[name]] for r in batch] for name in counts}


def test_every_row_visited_once_per_pass() -> None:
    p = plan("all")
    steps = p.steps()
    assert len(steps) == 9 and all(list(step) == ["a", "b"] for step in steps)  # a: 9 batches, b: 6
    visited = rows_per_task(steps, {"a": 9, "b": 6})
    assert sorted(visited["a"]) == list(range(37))
    assert sorted(visited["b"]) == list(range(23))
    # task b is reshuffled and starts a second pass in steps 7..9
    second = [r for step in steps[6:] for r in step["b"]]
    assert len(second) == len(set(second)) and len(second) in (11, 12)  # one of the batches may hold 3 rows


def test_every_row_visited_once_per_pass_over_two_ranks() -> None:
    ranks = [plan("all", rank=r, world_size=2).steps() for r in (0, 1)]
    for name, n in SIZES.items():
        passes = batches_per_pass(n, 8)  # global batches of 8
        rows = [r for steps in ranks for r in rows_per_task(steps, {name: passes})[name]]
        assert sorted(rows) == list(range(n))


# -- the loader -----------------------------------------------------------------------


def encoded(n: int, offset: int, seed: int) -> datasets.Dataset:
    """Encoded rows whose input ids identify them: ``[2, offset + i, ..., 3]`` of varying length."""
    rng = random.Random(seed)
    ids = [[2] + [offset + i] * rng.randint(1, 12) + [3] for i in range(n)]
    return datasets.Dataset.from_dict(
        {
            "input_ids": ids,
            "token_type_ids": [[0] * len(x) for x in ids],
            "length": [len(x) for x in ids],
            "index": list(range(n)),
            "labels": [i % 3 for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def data() -> dict[str, datasets.Dataset]:
    return {"a": encoded(37, 1000, 0), "b": encoded(23, 2000, 1)}


def make_loader(
    data: dict[str, datasets.Dataset], strategy: str = "proportional", num_workers: int = 0, batch_size: int = 4
) -> MultiTaskTrainLoader:
    lengths = {name: split["length"][:] for name, split in data.items()}
    step_plan = StepPlan(lengths, batch_size, TaskSampler(strategy), seed=3, bucket_batches=2)  # type: ignore[arg-type]
    return MultiTaskTrainLoader(data, step_plan, num_workers=num_workers)


def assert_same_batches(got: list[dict[str, dict[str, Any]]], expected: list[dict[str, dict[str, Any]]]) -> None:
    assert len(got) == len(expected)
    for step_got, step_expected in zip(got, expected):
        assert list(step_got) == list(step_expected)
        for name in step_got:
            assert step_got[name]["task"] == step_expected[name]["task"] == name
            for key in ("input_ids", "attention_mask", "token_type_ids", "index", "labels"):
                assert torch.equal(step_got[name][key], step_expected[name][key]), (name, key)


def test_loader_yields_task_batches_of_the_plan(data: dict[str, datasets.Dataset]) -> None:
    loader = make_loader(data)
    batches = list(loader)
    steps = loader.sampler.steps()
    assert len(loader) == len(batches) == 15  # 9 batches of a, 6 of b
    for batch, step in zip(batches, steps):
        assert list(batch) == list(step)
        for name, rows in step.items():
            task_batch = batch[name]
            assert task_batch["task"] == name
            assert task_batch["index"].tolist() == rows
            offset = 1000 if name == "a" else 2000
            lengths = [data[name]["length"][r] for r in rows]
            assert task_batch["input_ids"].shape == (len(rows), max(lengths))
            assert task_batch["attention_mask"].sum(dim=1).tolist() == lengths
            assert task_batch["input_ids"][:, 1].tolist() == [offset + r for r in rows]
            assert task_batch["labels"].tolist() == [r % 3 for r in rows]


def test_loader_with_all_strategy_has_every_task_each_step(data: dict[str, datasets.Dataset]) -> None:
    loader = make_loader(data, "all")
    batches = list(loader)
    assert len(loader) == len(batches) == 9
    assert all(list(batch) == ["a", "b"] for batch in batches)


def test_iterating_twice_gives_the_same_epoch(data: dict[str, datasets.Dataset]) -> None:
    loader = make_loader(data)
    assert_same_batches(list(loader), list(loader))


def test_state_dict_resume(data: dict[str, datasets.Dataset]) -> None:
    uninterrupted = list(make_loader(data))

    interrupted = make_loader(data)
    iterator = iter(interrupted)
    head = [next(iterator) for _ in range(6)]
    state = interrupted.state_dict()
    assert state == {"epoch": 0, "position": 6}
    assert_same_batches(head, uninterrupted[:6])

    resumed = make_loader(data)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert_same_batches(rest, uninterrupted[6:])
    assert resumed.state_dict() == {"epoch": 0, "position": 15}
    assert_same_batches(list(resumed), uninterrupted)  # the next iteration is a whole epoch again


def test_state_dict_resume_in_a_later_epoch(data: dict[str, datasets.Dataset]) -> None:
    reference = make_loader(data)
    reference.sampler.set_epoch(2)
    uninterrupted = list(reference)
    assert reference.sampler.steps() != make_loader(data).sampler.steps()  # epoch 2 differs from epoch 0

    interrupted = make_loader(data)
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    for _ in range(3):
        next(iterator)
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "position": 3}

    resumed = make_loader(data)  # a fresh plan, at epoch 0
    resumed.load_state_dict(state)
    assert resumed.sampler.epoch == 2
    assert_same_batches(list(resumed), uninterrupted[3:])


def test_state_at_the_end_of_an_epoch_restarts_it(data: dict[str, datasets.Dataset]) -> None:
    uninterrupted = list(make_loader(data))
    resumed = make_loader(data)
    resumed.load_state_dict({"epoch": 0, "position": 16})
    assert_same_batches(list(resumed), uninterrupted)


def test_worker_processes_give_the_same_batches_in_order(data: dict[str, datasets.Dataset]) -> None:
    assert_same_batches(list(make_loader(data, num_workers=2)), list(make_loader(data, num_workers=0)))
