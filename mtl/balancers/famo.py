"""FAMO: Fast Adaptive Multitask Optimization."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting


class FAMO(Weighting):
    """Task weights that balance the rate at which every task's log-loss falls, in O(T).

    Liu et al. 2023, *FAMO: Fast Adaptive Multitask Optimization* (NeurIPS); follows the
    official code (``Cranial-XIX/FAMO``, ``famo.py``). With ``D_t = L_t - min_loss + eps``,
    task logits ``xi`` and ``z = softmax(xi)`` over the tasks of the step:

    - loss: ``sum_t z_t log(D_t) / c`` with ``c = sum_t z_t / D_t`` (a constant), so the
      update direction is ``sum_t w_t grad L_t`` with ``w_t = z_t / (c D_t)``, which sum
      to 1; ``last_weights`` holds these ``w_t``.
    - logits: with ``delta_t = log D_t(before) - log D_t(after)`` (how much each log-loss
      fell over one model update), the logit gradient is ``J_z^T delta`` (``J_z`` the
      softmax Jacobian: ``z_t (delta_t - sum_s z_s delta_s)``) and ``xi`` takes one Adam
      step (``betas=(0.9, 0.999)``, ``eps=1e-8``, L2 ``weight_decay`` added to the
      gradient, as ``torch.optim.Adam``), implemented here on plain floats. A task whose
      loss fell less than the weighted average gains weight.

    The logits are not parameters (the module's optimiser never sees them); they and the
    Adam moments are checkpointed as extra state.

    *One forward per step.* The official code re-evaluates the same batch after the
    optimiser step to get ``D(after)``; that costs a second forward pass. Here the update
    happens at the start of the next call instead: ``D(before)`` is the previous step's
    losses and ``D(after)`` this step's, measured on the *next* batch. That is free, and
    equal to the official rule when both steps see the same batch; otherwise ``delta``
    also carries batch-to-batch noise, which the Adam averaging smooths. The logits are
    updated only for tasks present in both steps, and only when there are two or more of
    them (the softmax Jacobian of a single task is zero): with one task per step (a task
    sampler), FAMO changes nothing, and each step's gradient is that task's own. Under
    distributed training the logits follow the global batch's losses (the training step
    passes them, averaged over processes, as ``global_losses``), so every rank keeps the
    same logits.

    Args:
        lr: Adam learning rate of the logits (the paper's ``alpha``, 0.025).
        weight_decay: L2 regularisation of the logits (the paper's ``gamma``).
        min_loss: a known lower bound of every loss (0 for cross-entropy, as in the paper).
        eps: added to ``L_t - min_loss`` so a loss at its bound has a finite log.
    """

    needs_global_losses = True
    _betas = (0.9, 0.999)
    _adam_eps = 1e-8

    def __init__(self, lr: float = 0.025, weight_decay: float = 1e-3, min_loss: float = 0.0, eps: float = 1e-8) -> None:
        super().__init__()
        if lr <= 0 or weight_decay < 0 or eps <= 0:
            raise ValueError(f"FAMO needs lr > 0, weight_decay >= 0 and eps > 0; got {lr}, {weight_decay}, {eps}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.min_loss = min_loss
        self.eps = eps
        self.logits: dict[str, float] = {}  # task -> xi_t
        self._adam: dict[str, list[float]] = {}  # task -> [m, v, step]
        self._prev: dict[str, float] = {}  # task -> D_t of the previous step

    def forward(self, losses: dict[str, Tensor], global_losses: dict[str, Tensor] | None = None) -> Tensor:
        names = list(losses)
        d = torch.stack([losses[name] for name in names]) - self.min_loss + self.eps  # (T,)
        stacked = (
            d if global_losses is None else torch.stack([global_losses[n] for n in names]).to(d.dtype) - self.min_loss + self.eps
        )
        # The global batch's losses (mean over processes), so every process keeps the same
        # logits and the averaged gradient is the one-process gradient.
        now = stacked.detach().double().cpu().tolist()  # (T,) the one device sync of the step
        # A non-finite loss (the module skips that step) leaves the state alone: the next
        # step is compared with the last finite one.
        if all(math.isfinite(x) for x in now):
            bad = {name: float(losses[name]) for name, x in zip(names, now) if x <= 0}
            if bad:
                raise ValueError(
                    f"FAMO: tasks {sorted(bad)} have losses {bad} at or below min_loss={self.min_loss}; "
                    "set balancer min_loss below every task's smallest possible loss"
                )
            self._update_logits(dict(zip(names, now)))
            self._prev = dict(zip(names, now))
        for name in names:
            self.logits.setdefault(name, 0.0)
        z = _softmax([self.logits[name] for name in names])  # (T,)
        c = sum(z_t / d_t for z_t, d_t in zip(z, now))
        coef = [z_t / c for z_t in z]  # (T,) the weights of log D_t
        self.last_weights = {name: k / d_t for name, k, d_t in zip(names, coef, now)}
        # Gradient sum_t coef_t / D_t * grad D_t (that of sum_t coef_t log D_t at the global
        # losses), linear in this process's losses; value: the objective at the global losses.
        linear = (d * d.new_tensor([self.last_weights[name] for name in names])).sum()
        objective = (d.new_tensor(now).log() * d.new_tensor(coef)).sum()  # NaN, not an error, for a bad loss
        return linear - linear.detach() + objective

    def _update_logits(self, now: dict[str, float]) -> None:
        common = [name for name in now if name in self._prev]
        if len(common) < 2:
            return
        delta = [math.log(self._prev[name]) - math.log(now[name]) for name in common]  # (K,)
        z = _softmax([self.logits[name] for name in common])  # (K,)
        mean = sum(z_t * delta_t for z_t, delta_t in zip(z, delta))
        beta1, beta2 = self._betas
        for name, z_t, delta_t in zip(common, z, delta):
            xi = self.logits[name]
            grad = z_t * (delta_t - mean) + self.weight_decay * xi  # (J_z^T delta)_t + L2
            m, v, step = self._adam.get(name, [0.0, 0.0, 0.0])
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            step += 1
            denom = math.sqrt(v) / math.sqrt(1 - beta2**step) + self._adam_eps
            self.logits[name] = xi - self.lr / (1 - beta1**step) * m / denom
            self._adam[name] = [m, v, step]

    def task_weights(self) -> dict[str, float]:
        """``softmax(xi)`` over every task seen so far."""
        names = list(self.logits)
        return dict(zip(names, _softmax([self.logits[name] for name in names])))

    def get_extra_state(self) -> dict[str, Any]:
        return {
            "logits": dict(self.logits),
            "adam": {name: list(state) for name, state in self._adam.items()},
            "prev": dict(self._prev),
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.logits = dict(state["logits"])
        self._adam = {name: list(s) for name, s in state["adam"].items()}
        self._prev = dict(state["prev"])


def _softmax(xs: list[float]) -> list[float]:
    top = max(xs)
    e = [math.exp(x - top) for x in xs]
    total = sum(e)
    return [x / total for x in e]
