"""The balancer plots: what is drawn, and the smoothing behind it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.loggers import CSVLogger

from mtl.callbacks.balancer_plots import BalancerPlots, smoothed, smoothing_window


def test_smoothed_is_a_centred_moving_average_shorter_at_the_ends() -> None:
    assert smoothed([0, 3, 6, 9, 12], window=3) == pytest.approx([1.5, 3.0, 6.0, 9.0, 10.5])  # (0+3)/2 ... (9+12)/2
    assert smoothed([2.0] * 7, window=25) == [2.0] * 7
    assert smoothed([], window=5) == []
    assert [smoothing_window(n) for n in (15, 40, 2000, 50_000)] == [1, 2, 100, 101]


def record(weights: list[dict[str, float]], cosines: list[dict[tuple[str, str], float]], tmp_path: Path) -> Path:
    trainer = SimpleNamespace(loggers=[CSVLogger(tmp_path, name="run")], default_root_dir=str(tmp_path), global_step=0)
    plots = BalancerPlots()
    for step, (w, c) in enumerate(zip(weights, cosines)):
        trainer.global_step = step
        plots.on_train_batch_end(trainer, SimpleNamespace(balancer=SimpleNamespace(last_weights=w), last_cosines=c))
    plots.on_fit_end(trainer, SimpleNamespace(balancer=SimpleNamespace()))
    return tmp_path / "run" / "version_0"


def test_constant_weights_are_not_drawn_and_changing_ones_are(tmp_path: Path) -> None:
    constant = record([{"a": 1.0, "b": 1.0}] * 30, [{}] * 30, tmp_path / "sum")
    assert not (constant / "task_weights.png").exists() and not (constant / "gradient_conflict.png").exists()
    changing = record([{"a": 1.0 + 0.01 * s, "b": 1.0} for s in range(30)], [{}] * 30, tmp_path / "learned")
    assert (changing / "task_weights.png").stat().st_size > 1000


def test_gradient_conflict_is_drawn_with_constant_weights(tmp_path: Path) -> None:
    cosines = [{("a", "b"): 0.05 * (s % 3), ("a", "c"): -0.02, ("b", "c"): 0.01} for s in range(30)]
    run = record([{"a": 1.0, "b": 1.0, "c": 1.0}] * 30, cosines, tmp_path)
    assert (run / "gradient_conflict.png").stat().st_size > 1000 and not (run / "task_weights.png").exists()
