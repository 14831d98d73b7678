"""Steps that are skipped because a loss or a task gradient is NaN or infinite: the
balancer's state is left as if the step had never happened, and an fp16 loss scaler
lowers its scale as it does when it finds an overflow itself."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn


def nonfinite_tasks(tasks: list[str], gram: Tensor) -> list[str]:
    """The tasks whose gradients have NaN or infinite entries, read off a ``(T, T)`` Gram
    matrix (a non-finite gradient has a non-finite squared norm on the diagonal)."""
    bad = ~torch.isfinite(gram.diagonal())
    return [task for task, b in zip(tasks, bad.tolist()) if b]


def back_off(scaler: torch.amp.GradScaler) -> None:
    """Lower ``scaler``'s scale as :meth:`~torch.amp.GradScaler.update` does after
    ``step`` found an inf or NaN gradient (and skipped the optimiser step): the scale is
    multiplied by ``backoff_factor`` and the count of steps toward the next growth starts over."""
    if not scaler.is_enabled():
        return
    state = scaler.state_dict()
    state["scale"] = state["scale"] * scaler.get_backoff_factor()
    state["_growth_tracker"] = 0
    scaler.load_state_dict(state)


class BalancerState:
    """A copy of a loss-weighting balancer's own state (buffers and extra state, not its
    parameters, which the optimiser keeps), to put back when the step it was taken
    before is skipped. Balancers without such state are never copied.

    Args:
        balancer: the balancer whose state is kept.
    """

    def __init__(self, balancer: nn.Module) -> None:
        self.balancer = balancer
        self._parameters = {name for name, _ in balancer.named_parameters()}
        self.saved: dict[str, Any] | None = None
        #: whether the balancer has state of its own (DWA's loss sums, FAMO's logits, a
        #: seeded random weighting's generator); if not, nothing is ever copied
        self.kept = bool(self._state())

    def save(self) -> None:
        if self.kept:
            self.saved = copy.deepcopy(self._state())

    def restore(self) -> None:
        if self.saved is not None:
            self.balancer.load_state_dict(copy.deepcopy(self.saved), strict=False)

    def _state(self) -> dict[str, Any]:
        return {k: v for k, v in self.balancer.state_dict().items() if k not in self._parameters}
