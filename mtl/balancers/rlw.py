"""Random Loss Weighting: fresh random task weights at every step."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting

Distribution = Literal["normal", "dirichlet", "uniform"]


class RandomLossWeighting(Weighting):
    """``L = sum_t w_t L_t`` with weights drawn anew at every step.

    Lin et al. 2022, *Reasonable Effectiveness of Random Weighting: A Litmus Test for
    Multi-Task Learning* (TMLR). Weights are drawn over the tasks present at the step and
    sum to 1 (LibMTL's convention; no factor ``T``):

    - ``normal``: ``w = softmax(z)``, ``z ~ N(0, I)`` (the paper's default, LibMTL's RLW);
    - ``dirichlet``: ``w ~ Dir(1, ..., 1)``, i.e. ``e / sum(e)`` with ``e ~ Exp(1)``;
    - ``uniform``: ``w = u / sum(u)``, ``u ~ U(0, 1)``.

    With ``seed`` the draws come from a ``torch.Generator`` on the losses' device, so a
    run is reproducible and its generator state is checkpointed; without it they come
    from torch's global generator (which ``seed_everything`` seeds).

    Args:
        distribution: where the weights come from (above).
        seed: seed of the method's own generator.
    """

    def __init__(self, distribution: Distribution = "normal", seed: int | None = None) -> None:
        super().__init__()
        if distribution not in ("normal", "dirichlet", "uniform"):
            raise ValueError(f"RandomLossWeighting distribution must be 'normal', 'dirichlet' or 'uniform', got {distribution!r}")
        self.distribution = distribution
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._pending_state: tuple[str, Tensor] | None = None  # (device type, state) from a checkpoint

    def _generator_on(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device.type != device.type:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
            if self._pending_state is not None and self._pending_state[0] == device.type:
                self._generator.set_state(self._pending_state[1])
            self._pending_state = None
        return self._generator

    def sample(self, n: int, device: torch.device) -> Tensor:
        """``(n,)`` non-negative weights that sum to 1."""
        generator = self._generator_on(device)
        if self.distribution == "normal":
            z = torch.randn(n, device=device, generator=generator)  # (n,)
            return torch.softmax(z, dim=0)
        if self.distribution == "dirichlet":
            e = torch.empty(n, device=device).exponential_(1.0, generator=generator)  # (n,)
        else:
            e = torch.rand(n, device=device, generator=generator)  # (n,)
        return e / e.sum()

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        names = list(losses)
        weights = self.sample(len(names), losses[names[0]].device)  # (T,)
        return self._weighted_sum(losses, dict(zip(names, weights)))

    def get_extra_state(self) -> dict[str, Any]:
        if self._generator is None:
            return {"generator": self._pending_state}
        return {"generator": (self._generator.device.type, self._generator.get_state())}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._generator = None  # re-created (then restored) at the next draw, on the losses' device
        self._pending_state = state["generator"]
