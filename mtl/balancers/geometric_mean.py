"""Geometric mean of the task losses."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting


class GeometricMean(Weighting):
    """``L = (prod_t L_t)^(1/T)``, computed as ``exp(mean_t log L_t)``.

    The "geometric loss strategy" of Chennupati et al. 2019, *MultiNet++: Multi-Stream
    Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning* (CVPR
    Workshops). The total is invariant to the scale of each loss: the effective weight
    ``dL / dL_t = L / (T L_t)`` shrinks as a task's loss grows, so no task dominates by
    magnitude. ``last_weights`` holds these effective weights. Every loss must be > 0.
    """

    needs_global_losses = True

    def forward(self, losses: dict[str, Tensor], global_losses: dict[str, Tensor] | None = None) -> Tensor:
        names = list(losses)
        stacked = torch.stack([losses[name] for name in names])  # (T,)
        not_positive = stacked.detach() <= 0  # NaN compares False: a NaN total is left to the caller
        if bool(not_positive.any()):
            bad = {name: float(stacked[i]) for i, name in enumerate(names) if not_positive[i]}
            raise ValueError(
                f"GeometricMean needs every task loss to be > 0, but tasks {sorted(bad)} have losses {bad}; "
                "use a loss that is strictly positive for these tasks, or another balancer such as Sum"
            )
        # Weights dL/dL_t = L / (T L_t) at the global batch's losses (mean over processes):
        # the weighted sum has the geometric mean's gradient, and averaging it over
        # processes gives the one-process gradient (the geometric mean itself is not linear).
        now = (stacked if global_losses is None else torch.stack([global_losses[n] for n in names])).detach().double()  # (T,)
        value = now.log().mean().exp()  # ()
        effective = value / (len(names) * now)  # (T,)
        self.last_weights = dict(zip(names, effective.tolist()))
        linear = (stacked * effective.to(stacked.dtype)).sum()  # () equals value in one process
        return linear - linear.detach() + value.to(stacked.dtype)
