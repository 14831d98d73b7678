"""DB-MTL: balance loss scales with logarithms and gradient magnitudes with the largest norm."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class DBMTL(GradientBalancer):
    """Dual-balancing MTL (Lin et al., "Dual-Balancing for Multi-Task Learning", 2023).

    Loss-scale balancing: each task minimises ``log L_i``, whose gradient is
    ``g_i / L_i``. Gradient-magnitude balancing: every (log-)task gradient is rescaled to
    the largest norm, ``d = max_j n_j * sum_i g_hat_i / n_i``. So the weights on the raw
    gradients are ``w_i = (max_j n_j / n_i) / L_i``.

    The paper (and LibMTL) keep an EMA of the log-gradient *vectors*,
    ``g_hat <- g + (beta / k^beta_sigma) (g_hat - g)`` at step ``k``, and combine those.
    A weighting of the current gradients cannot reproduce a combination of past ones, so
    here the same EMA is applied to the log-gradient *norms* ``||g_i|| / L_i`` (buffer
    ``norms``, with a step counter ``step``): ``n_i`` is that EMA, and the update is made
    of the current gradients. This differs from the paper unless ``beta = 0`` (no EMA).
    Losses are floored at ``1e-8`` before the logarithm, as in LibMTL.

    ``exact_with_representation`` is False: the magnitudes balanced are those of the
    parameter gradients; LibMTL does not support representation gradients for DB-MTL.

    Args:
        beta: EMA rate at step 1; 0 uses the current norms only.
        beta_sigma: decay exponent of the EMA rate, ``beta / k^beta_sigma``.
    """

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"DBMTL: beta must be in [0, 1); got {beta}")
        self.beta = beta
        self.beta_sigma = beta_sigma
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("norms", torch.zeros(0, dtype=torch.float64))  # (T,) EMA

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        losses = losses.detach().to(gram).clamp_min(1e-8)  # (T,)
        n = gram.shape[0]
        if self.norms.shape != (n,):
            self.norms = torch.zeros(n, dtype=torch.float64, device=gram.device)
            self.step = torch.zeros((), dtype=torch.long, device=gram.device)
        self.step = self.step + 1
        current = gram.diagonal().clamp_min(0.0).sqrt() / losses  # (T,) ||grad log L_i||
        rate = self.beta / float(self.step) ** self.beta_sigma
        ema = current + rate * (self.norms.to(gram) - current)  # (T,)
        self.norms = ema
        tiny = 1e-12 * float(ema.max().clamp_min(1e-300))
        scale = torch.where(ema > tiny, ema.max() / ema.clamp_min(tiny), torch.ones_like(ema))
        return scale / losses

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The EMA's shape is the task count, known only at the first step: adopt the saved one.
        if prefix + "norms" in state_dict:
            self.norms = torch.empty_like(state_dict[prefix + "norms"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
