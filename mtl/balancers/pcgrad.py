"""PCGrad: project away the conflicting component of each task gradient."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class PCGrad(GradientBalancer):
    """Projecting conflicting gradients (Yu et al., "Gradient Surgery for Multi-Task
    Learning", NeurIPS 2020).

    For each task ``i``, ``g_i'`` starts at ``g_i``; for every other task ``j`` in a random
    order, when ``g_i' . g_j < 0`` the component along ``g_j`` is removed,
    ``g_i' -= (g_i' . g_j / ||g_j||^2) g_j``. The update is ``d = sum_i g_i'``. Each
    ``g_i'`` is tracked as a coefficient row ``C[i]`` (``g_i' = sum_k C[i, k] g_k``), so
    ``g_i' . g_j = (C G)[i, j]`` and the weights are ``w = sum_i C[i]``.

    ``exact_with_representation`` is False: the conflict test and the projections are
    defined on the parameter gradients; on representation gradients they are computed
    in another space and only approximate the method.

    Args:
        seed: seed of this balancer's own random generator for the projection order;
            None draws the order from torch's global generator (seeded by
            ``seed_everything``).
    """

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.seed = seed
        self._generator: torch.Generator | None = None
        if seed is not None:
            self._generator = torch.Generator().manual_seed(seed)

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        return self.projections(gram).sum(0)

    def projections(self, gram: Tensor) -> Tensor:
        """``(T, T)``: row ``i`` holds the weights of the projected ``g_i'`` (one random order)."""
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        coef = torch.eye(n, dtype=gram.dtype, device=gram.device)  # (T, T) rows: g_i' in g
        norms2 = gram.diagonal()  # (T,) ||g_j||^2
        tiny = 1e-20 * float(norms2.max().clamp_min(1e-300))
        for i in range(n):
            others = [j for j in torch.randperm(n, generator=self._generator).tolist() if j != i]
            for j in others:
                dot = coef[i] @ gram[:, j]  # g_i' . g_j
                if float(dot) < 0 and float(norms2[j]) > tiny:
                    coef[i, j] -= dot / norms2[j]  # g_i' -= (g_i'.g_j / ||g_j||^2) g_j
        return coef
