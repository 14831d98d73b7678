"""What the module tells DDP: which parameters may sit out a step, when not to
all-reduce gradients, and which of Lightning's distributed warnings do not apply."""

from __future__ import annotations

import warnings

from lightning.pytorch.strategies import DDPStrategy, Strategy


def let_ddp_skip_idle_heads(strategy: Strategy, every_task_each_step: bool, automatic_optimization: bool) -> None:
    """With one task (or some) per step, the other heads take no part in the loss and
    DDP must be told to expect that. Every process trains the same tasks at a step, so
    those heads are idle everywhere and keep ``grad = None``, as in one process.
    Gradient balancers reduce gradients themselves (DDP's sync is off)."""
    if isinstance(strategy, DDPStrategy) and automatic_optimization and not every_task_each_step:
        strategy._ddp_kwargs.setdefault("find_unused_parameters", True)


def stop_gradient_sync(strategy: Strategy) -> None:
    """Gradient balancers reduce the task gradients themselves (see
    :class:`~mtl.training.task_gradients.TaskGradients`); DDP's automatic all-reduce of
    ``.grad`` would mix in partial sums."""
    wrapper = strategy.model
    if hasattr(wrapper, "require_backward_grad_sync"):
        wrapper.require_backward_grad_sync = False


def ignore_epoch_sync_advice() -> None:
    """Training losses are logged as means over all processes already, and validation and
    test metrics are reduced over the processes by torchmetrics (see :mod:`mtl.evaluation`)
    before they are logged: Lightning's advice to log them with ``sync_dist=True`` under
    DDP does not apply."""
    warnings.filterwarnings("ignore", message=r".*self\.log\('(train|val|test)/.*when logging on epoch level in distributed")
