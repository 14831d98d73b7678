"""Fixed, user-chosen task weights."""

from __future__ import annotations

from torch import Tensor

from mtl.balancers.weighting import Weighting


class StaticWeights(Weighting):
    """``L = sum_t w_t L_t`` with fixed weights.

    Args:
        weights: task name to weight; tasks not listed get ``default``.
        default: weight of unlisted tasks.
    """

    def __init__(self, weights: dict[str, float], default: float = 1.0) -> None:
        super().__init__()
        negative = {k: v for k, v in weights.items() if v < 0}
        if negative:
            raise ValueError(f"static task weights must be >= 0; got {negative}")
        self.weights = dict(weights)
        self.default = default

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        return self._weighted_sum(losses, {name: self.weights.get(name, self.default) for name in losses})
