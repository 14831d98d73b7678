"""Steps that are skipped because a loss or a task gradient is NaN or infinite: the
balancer's state is left as if the step had never happened, and an fp16 loss scaler
lowers its scale as it does when it finds an overflow itself."""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)


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


class NonfiniteSteps:
    """Counts skipped steps in a row and stops training when there are too many.

    Args:
        max_steps: consecutive steps with a NaN/inf loss (or NaN/inf task gradients, other
            than an fp16 overflow the loss scaler recovers from) skipped before training
            stops with an error.
    """

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        self.streak = 0
        self._since: int | None = None  # the step the current streak began

    @property
    def since(self) -> int | None:
        """The step from which every training step so far was skipped; None when the
        last step was finite."""
        return self._since if self.streak else None

    def finite(self) -> None:
        """A step that trained: the streak is over."""
        self.streak = 0

    def skip(
        self, step: int, losses: dict[str, Tensor], gradient_tasks: list[str] | None = None, loss_scale: float | None = None
    ) -> None:
        """Counts a skipped step: a NaN/inf loss, or (``gradient_tasks``) NaN/inf task
        gradients found at fp16 loss scale ``loss_scale``; raises after ``max_steps`` of
        them in a row. An overflow at a loss scale above 1 is routine for fp16 (the scaler
        has lowered its scale) and does not count."""
        if gradient_tasks is not None and loss_scale is not None and loss_scale > 1:
            log.info("step %d: fp16 overflow in the gradients of %s; step skipped, loss scale lowered", step, gradient_tasks)
            return
        if gradient_tasks is not None:
            bad, what = gradient_tasks, "gradients"
        else:
            bad, what = [task for task, loss in losses.items() if not torch.isfinite(loss)] or list(losses), "loss"
        self.streak += 1
        if self.streak == 1:
            self._since = step
        log.warning("step %d: non-finite %s from tasks %s; step skipped", step, what, bad)
        if self.streak >= self.max_steps:
            raise FloatingPointError(
                f"NaN or infinite {what} from tasks {bad} for {self.streak} steps in a row, since step "
                f"{self._since}; training stopped. Lower model.lr, add --trainer.gradient_clip_val, or check "
                f"those tasks' labels; resume with --ckpt_path set to a checkpoint saved before step {self._since}"
            )
