"""TAG's task groupings from an affinity matrix, checked by hand on four tasks."""

from __future__ import annotations

import pytest

from mtl import task_groups
from mtl.task_groups import Grouping, best_groupings, group_score

TASKS = ["a", "b", "c", "d"]
# Z[i][j]: a step on i lowers j's loss by this share. a and b help each other, so do c
# and d; every other pair hurts (-0.1). The diagonal never counts.
Z = [
    [0.5, 0.4, -0.1, -0.1],
    [0.2, 0.5, -0.1, -0.1],
    [-0.1, -0.1, 0.5, 0.1],
    [-0.1, -0.1, 0.3, 0.5],
]


def test_group_score_is_the_mean_affinity_onto_each_task_from_its_groupmates() -> None:
    assert group_score(Z, [0]) == 0.0
    assert group_score(Z, [0, 1]) == pytest.approx(0.4 + 0.2)
    # onto a: (0.2 - 0.1) / 2, onto b: (0.4 - 0.1) / 2, onto c: (-0.1 - 0.1) / 2
    assert group_score(Z, [0, 1, 2]) == pytest.approx(0.05 + 0.15 - 0.1)


def test_best_partition_for_each_number_of_groups() -> None:
    found = best_groupings(TASKS, Z)
    assert [len(g.groups) for g in found] == [1, 2, 3]
    # k=1: onto a (0.2-0.1-0.1)/3, b (0.4-0.1-0.1)/3, c (-0.1-0.1+0.3)/3, d (-0.1-0.1+0.1)/3
    assert found[0] == Grouping((("a", "b", "c", "d"),), pytest.approx(0.2 / 3))
    assert found[1] == Grouping((("a", "b"), ("c", "d")), pytest.approx(0.6 + 0.4))
    assert found[2] == Grouping((("a", "b"), ("c",), ("d",)), pytest.approx(0.6))
    assert found[1].describe() == "{a, b} {c, d}  score +1"


def test_greedy_merging_finds_the_same_groups_here_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_groups, "EXHAUSTIVE_UP_TO", 3)
    found = best_groupings(TASKS, Z)
    assert [g.groups for g in found] == [(("a", "b", "c", "d"),), (("a", "b"), ("c", "d")), (("a", "b"), ("c",), ("d",))]
    assert not found[1].exhaustive and found[1].describe().endswith("(greedy)")


def test_one_task_is_one_group_and_a_wrong_matrix_is_refused() -> None:
    assert best_groupings(["a"], [[0.3]]) == [Grouping((("a",),), 0.0)]
    with pytest.raises(ValueError, match="2 x 2"):
        best_groupings(["a", "b"], [[0.0, 1.0]])
