from __future__ import annotations

import math

import pytest

from mtl.schedule import lr_factor


def test_warmup_then_linear_decay() -> None:
    assert [lr_factor(s, 10, 4, "linear") for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 10, 4, "linear") == 1.0
    assert lr_factor(7, 10, 4, "linear") == pytest.approx(0.5)
    assert lr_factor(10, 10, 4, "linear") == 0.0


def test_cosine_and_constant_and_floor() -> None:
    assert lr_factor(5, 10, 0, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(9, 10, 0, "constant") == 1.0
    assert lr_factor(10, 10, 0, "linear", min_ratio=0.1) == pytest.approx(0.1)


def test_unknown_schedule() -> None:
    with pytest.raises(ValueError, match="'step' is not one of"):
        lr_factor(5, 10, 0, "step")
