"""Dynamic Weight Average: weights from the rate at which each task's loss falls."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting


class DynamicWeightAverage(Weighting):
    """``L = sum_t w_t L_t`` with ``w = K * softmax(r / temperature)``.

    Liu, Johns & Davison 2019, *End-to-End Multi-Task Learning with Attention* (CVPR).
    ``r_t = L_t(e-1) / L_t(e-2)`` is the ratio of task ``t``'s mean training loss in the
    last two epochs (a task whose loss falls slowly gets more weight) and ``K`` is the
    number of tasks in the softmax. Weights are 1 in the first two epochs, as in the
    paper, and stay fixed within an epoch.

    Every step adds each present task's (finite) loss to a running sum; the module calls
    :meth:`epoch_end` at the end of every training epoch, which turns the sums into epoch
    means, shifts the two-epoch history and computes the next epoch's weights. Only tasks
    with a mean in both previous epochs enter the softmax; any other task weighs 1, so a
    step with a subset of the tasks (or a task seen for the first time) works. Under
    distributed training the training step adds up every rank's :meth:`epoch_sums` and
    hands the totals to :meth:`epoch_end`, so every rank uses the same weights. Sums, history and weights are checkpointed (extra state).

    Args:
        temperature: softmax temperature; larger is closer to equal weights.
    """

    def __init__(self, temperature: float = 2.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"DynamicWeightAverage temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self._sums: dict[str, Tensor] = {}  # task -> () sum of this epoch's finite losses
        self._counts: dict[str, Tensor] = {}  # task -> () number of them
        self.history: list[dict[str, float]] = [{}, {}]  # epoch means of [e-2, e-1]
        self.weights: dict[str, float] = {}  # this epoch's weights

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        with torch.no_grad():
            for name, loss in losses.items():
                value = loss.detach().float()  # ()
                finite = torch.isfinite(value)  # a skipped NaN step must not poison the mean
                zero = torch.zeros_like(value)
                # ``.to``: sums restored from a checkpoint are on the CPU
                self._sums[name] = self._sums.get(name, zero).to(value.device) + torch.where(finite, value, zero)
                self._counts[name] = self._counts.get(name, zero).to(value.device) + finite.float()
        return self._weighted_sum(losses, {name: self.weights.get(name, 1.0) for name in losses})

    def epoch_sums(self) -> dict[str, dict[str, float]]:
        """This process's sums and counts of the epoch's finite losses, by task."""
        return {
            "sums": {name: float(total) for name, total in self._sums.items()},
            "counts": {name: float(count) for name, count in self._counts.items()},
        }

    def epoch_end(self, sums: dict[str, dict[str, float]] | None = None) -> None:
        """Closes a training epoch: epoch means -> history -> next epoch's weights."""
        totals = sums if sums is not None else self.epoch_sums()
        sums, counts = totals.get("sums", {}), totals.get("counts", {})
        means = {name: sums[name] / counts[name] for name in sums if counts[name] > 0}
        self.history = [self.history[1], means]
        self._sums, self._counts = {}, {}
        self.weights = self._weights_from_history()

    def _weights_from_history(self) -> dict[str, float]:
        before, last = self.history
        ratios = {
            name: last[name] / before[name]
            for name in last
            if name in before and before[name] > 0 and math.isfinite(last[name] / before[name])
        }
        if not ratios:
            return {}
        names = sorted(ratios)
        r = torch.tensor([ratios[name] for name in names], dtype=torch.float64)  # (K,)
        w = len(names) * torch.softmax(r / self.temperature, dim=0)  # (K,)
        return dict(zip(names, w.tolist()))

    def get_extra_state(self) -> dict[str, Any]:
        return {
            "sums": {name: float(total) for name, total in self._sums.items()},
            "counts": {name: float(count) for name, count in self._counts.items()},
            "history": [dict(h) for h in self.history],
            "weights": dict(self.weights),
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._sums = {name: torch.tensor(value) for name, value in state["sums"].items()}
        self._counts = {name: torch.tensor(value) for name, value in state["counts"].items()}
        self.history = [dict(h) for h in state["history"]]
        self.weights = dict(state["weights"])
