"""Task sampling: per-step probabilities, epoch lengths and schedules, by hand."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from mtl.data.sampling import TaskSampler


def approx(values: dict[str, float]) -> dict[str, object]:
    return {k: pytest.approx(v, abs=1e-12) for k, v in values.items()}


def test_proportional() -> None:
    assert TaskSampler("proportional").probabilities({"a": 100, "b": 300}) == approx({"a": 0.25, "b": 0.75})


def test_temperature() -> None:
    # 100 ** (1/2) = 10, 400 ** (1/2) = 20
    assert TaskSampler("temperature", temperature=2.0).probabilities({"a": 100, "b": 400}) == approx({"a": 1 / 3, "b": 2 / 3})
    # 8 ** (1/3) = 2, 64 ** (1/3) = 4, 1 ** (1/3) = 1
    sizes = {"a": 8, "b": 64, "c": 1}
    assert TaskSampler("temperature", temperature=3.0).probabilities(sizes) == approx({"a": 2 / 7, "b": 4 / 7, "c": 1 / 7})
    # temperature 1 is proportional
    assert TaskSampler("temperature", temperature=1.0).probabilities({"a": 100, "b": 300}) == approx({"a": 0.25, "b": 0.75})


def test_uniform_round_robin_and_all_are_uniform() -> None:
    for strategy in ("uniform", "round_robin", "all"):
        probs = TaskSampler(strategy).probabilities({"a": 10, "b": 1000, "c": 7})  # type: ignore[arg-type]
        assert probs == approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})


def test_annealed_moves_from_proportional_to_alpha_point_two() -> None:
    sampler = TaskSampler("annealed", anneal_epochs=5)
    sizes = {"a": 1, "b": 32}
    assert sampler.probabilities(sizes, epoch=0) == approx({"a": 1 / 33, "b": 32 / 33})  # alpha 1
    assert sampler.probabilities(sizes, epoch=2) == approx({"a": 1 / 9, "b": 8 / 9})  # alpha 0.6: 32**0.6 = 8
    assert sampler.probabilities(sizes, epoch=4) == approx({"a": 1 / 3, "b": 2 / 3})  # last: alpha 0.2, 32**0.2 = 2
    assert sampler.probabilities(sizes, epoch=9) == approx({"a": 1 / 3, "b": 2 / 3})  # stays there


def test_num_steps() -> None:
    batches = {"a": 3, "b": 5}
    for strategy in ("proportional", "temperature", "uniform", "round_robin", "annealed"):
        assert TaskSampler(strategy).num_steps(batches) == 8  # type: ignore[arg-type]
    assert TaskSampler("all").num_steps(batches) == 5
    assert TaskSampler("all", steps_per_epoch=7).num_steps(batches) == 7
    assert TaskSampler("proportional", steps_per_epoch=2).num_steps(batches) == 2


def test_round_robin_schedule() -> None:
    sizes = {"a": 10, "b": 10, "c": 10}
    schedule = TaskSampler("round_robin").schedule(sizes, {"a": 1, "b": 3, "c": 1}, 0, random.Random(0))
    assert schedule == [["a"], ["b"], ["c"], ["a"], ["b"]]


def test_all_schedule_gives_every_task_each_step() -> None:
    sizes = {"a": 10, "b": 40}
    schedule = TaskSampler("all").schedule(sizes, {"a": 1, "b": 4}, 0, random.Random(0))
    assert schedule == [["a", "b"]] * 4


def test_proportional_schedule_frequencies_match_probabilities() -> None:
    sizes = {"a": 100, "b": 300}
    schedule = TaskSampler("proportional", steps_per_epoch=4000).schedule(sizes, {"a": 1, "b": 1}, 0, random.Random(123))
    assert len(schedule) == 4000 and all(len(step) == 1 for step in schedule)
    counts = Counter(step[0] for step in schedule)
    assert abs(counts["a"] / 4000 - 0.25) < 0.03  # sd is 0.007
    assert abs(counts["b"] / 4000 - 0.75) < 0.03


def test_temperature_schedule_frequencies_and_seeding() -> None:
    sampler = TaskSampler("temperature", temperature=2.0, steps_per_epoch=3000)
    sizes = {"a": 100, "b": 400}
    schedule = sampler.schedule(sizes, {"a": 1, "b": 1}, 0, random.Random(7))
    assert abs(Counter(s[0] for s in schedule)["a"] / 3000 - 1 / 3) < 0.03
    assert sampler.schedule(sizes, {"a": 1, "b": 1}, 0, random.Random(7)) == schedule
    assert sampler.schedule(sizes, {"a": 1, "b": 1}, 0, random.Random(8)) != schedule


def test_annealed_schedule_uses_the_epoch() -> None:
    sampler = TaskSampler("annealed", anneal_epochs=5, steps_per_epoch=3000)
    sizes = {"a": 1, "b": 32}
    first = Counter(s[0] for s in sampler.schedule(sizes, {"a": 1, "b": 1}, 0, random.Random(1)))
    last = Counter(s[0] for s in sampler.schedule(sizes, {"a": 1, "b": 1}, 4, random.Random(1)))
    assert abs(first["a"] / 3000 - 1 / 33) < 0.02
    assert abs(last["a"] / 3000 - 1 / 3) < 0.03


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "random"}, "sampling strategy 'random' is not one of"),
        ({"temperature": 0.0}, "sampling temperature must be > 0, got 0.0"),
        ({"temperature": -1.0}, "sampling temperature must be > 0, got -1.0"),
        ({"steps_per_epoch": 0}, "steps_per_epoch must be >= 1, got 0"),
    ],
)
def test_invalid_settings_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TaskSampler(**kwargs)
