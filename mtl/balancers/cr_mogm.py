"""CR-MOGM: any gradient method's weights smoothed by a moving average over steps."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer, adopt_saved_shapes
from mtl.balancers.mgda import MGDA


class CRMOGM(GradientBalancer):
    """Correlation-reduced multi-objective gradient manipulation (Zhou et al., "On the
    Convergence of Stochastic Multi-Objective Gradient Manipulation and Beyond",
    NeurIPS 2022).

    A stochastic gradient method whose weights are computed from the same sample as the
    update is biased (the weights correlate with the gradient noise). CR-MOGM smooths the
    weights of a base method over steps,

        ``lambda_t = alpha lambda_{t-1} + (1 - alpha) base_t``,

    and updates along this step's gradients weighted by ``lambda_t``. ``lambda`` (buffer
    ``weights``) starts at the first step's base weights, so ``lambda_t`` is the moving
    average of the base weights of steps ``1..t``. The base method's own state is
    checkpointed with this one. No official implementation was found; this follows the
    paper's update. It costs the base method plus ``O(T)``.

    ``exact_with_representation`` follows the base method.

    Args:
        base: the gradient method whose weights are smoothed (default :class:`MGDA`).
        alpha: the moving average's memory, in ``[0, 1)`` (0: the base method itself).
    """

    def __init__(self, base: GradientBalancer | None = None, alpha: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"CRMOGM: alpha must be in [0, 1); got {alpha}")
        self.base = base if base is not None else MGDA()
        self.alpha = alpha
        self.exact_with_representation = self.base.exact_with_representation
        self.register_buffer("weights", torch.zeros(0, dtype=torch.float64))  # (T,) lambda

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        base = self.base(gram, losses).to(torch.float64)  # (T,)
        if self.weights.shape != base.shape:  # first step (or a new task count)
            self.weights = base.clone()
        else:
            self.weights = self.alpha * self.weights.to(base) + (1.0 - self.alpha) * base
        return self.weights.clone()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        adopt_saved_shapes(self, state_dict, prefix, ("weights",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
