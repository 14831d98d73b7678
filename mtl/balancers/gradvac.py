"""GradVac: pull each pair of task gradients toward their running cosine similarity."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class GradVac(GradientBalancer):
    """Gradient vaccine (Wang et al., "Gradient Vaccine: Investigating and Improving
    Multi-task Optimization in Massively Multilingual Models", ICLR 2021).

    Keeps an EMA target ``phi_hat[i, j]`` of the cosine similarity of each ordered task
    pair (buffer ``targets``, so it is checkpointed; zeros at the start). For each task
    ``i``, ``g_i'`` starts at ``g_i``; for every other task ``j`` in a random order, with
    ``phi = cos(g_i', g_j)``: if ``phi < phi_hat[i, j]``,

        ``g_i' += ||g_i'|| (phi_hat sqrt(1 - phi^2) - phi sqrt(1 - phi_hat^2))
        / (||g_j|| sqrt(1 - phi_hat^2)) g_j``,

    which sets the cosine of ``g_i'`` and ``g_j`` exactly to ``phi_hat``; then
    ``phi_hat[i, j] <- (1 - beta) phi_hat[i, j] + beta phi``. The update is
    ``d = sum_i g_i'``, each ``g_i'`` tracked as coefficients over the task gradients.

    This is the whole-vector ("parameter-level") variant: one cosine per task pair over
    all shared parameters, not the paper's per-layer or per-block targets, because only
    the Gram matrix of the full gradients is available.

    ``exact_with_representation`` is False: the cosine targets are statistics of the
    parameter gradients; representation gradients have other similarities.

    Args:
        beta: EMA rate of the targets.
        seed: seed of this balancer's own generator for the pair order; None uses
            torch's global generator.
    """

    def __init__(self, beta: float = 0.01, seed: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"GradVac: beta must be in [0, 1]; got {beta}")
        self.beta = beta
        self.seed = seed
        self._generator = None if seed is None else torch.Generator().manual_seed(seed)
        self.register_buffer("targets", torch.zeros(0, 0, dtype=torch.float64))  # (T, T) phi_hat

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        if self.targets.shape != (n, n):
            self.targets = torch.zeros(n, n, dtype=torch.float64, device=gram.device)
        targets = self.targets.to(gram.device, torch.float64)
        coef = torch.eye(n, dtype=gram.dtype, device=gram.device)  # (T, T) rows: g_i' in g
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,) ||g_j||
        tiny = 1e-12 * float(norms.max())
        for i in range(n):
            for j in torch.randperm(n, generator=self._generator).tolist():
                if j == i or float(norms[j]) <= tiny:
                    continue
                norm_i = math.sqrt(max(float(coef[i] @ gram @ coef[i]), 0.0))  # ||g_i'||
                if norm_i <= tiny:
                    continue
                phi = float(coef[i] @ gram[:, j]) / (norm_i * float(norms[j]))
                phi = min(max(phi, -1.0), 1.0)
                target = float(targets[i, j])
                if phi < target:
                    sin_target = max(math.sqrt(1.0 - target * target), 1e-12)
                    step = target * math.sqrt(1.0 - phi * phi) - phi * sin_target
                    coef[i, j] += norm_i * step / (float(norms[j]) * sin_target)
                targets[i, j] = (1.0 - self.beta) * target + self.beta * phi
        self.targets = targets
        return coef.sum(0)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The buffer's shape is the task count, known only at the first step: adopt the saved one.
        if prefix + "targets" in state_dict:
            self.targets = torch.empty_like(state_dict[prefix + "targets"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
