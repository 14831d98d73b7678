"""Plain summation of the task losses."""

from __future__ import annotations

from torch import Tensor

from mtl.balancers.weighting import Weighting


class Sum(Weighting):
    """``L = sum_t L_t``: "add all the losses", the multi-task baseline."""

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        return self._weighted_sum(losses, {name: 1.0 for name in losses})
