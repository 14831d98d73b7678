"""MoDo: one projected gradient step of the min-norm weights per training step."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer, adopt_saved_shapes
from mtl.balancers.solvers import project_simplex


class MoDo(GradientBalancer):
    """Multi-objective gradient with double sampling (Chen et al., "Three-Way Trade-Off in
    Multi-Objective Learning: Optimization, Generalization and Conflict-Avoidance",
    NeurIPS 2023).

    The simplex weights ``lambda`` (buffer ``weights``, uniform at the start) follow one
    projected gradient step of MGDA's problem ``min 0.5 ||G^T lambda||^2 + 0.5 rho
    ||lambda||^2`` per training step,

        ``lambda <- Pi(lambda - gamma (G1 G2^T lambda + rho lambda))``,

    and the update is ``G3^T lambda`` with the new ``lambda``. The paper takes ``G1``,
    ``G2`` and ``G3`` from three independent samples (double sampling makes
    ``G1 G2^T`` an unbiased estimate of the true Gram matrix); here all are this step's
    gradients (one backward per task, no extra pass), so ``G1 G2^T`` is the Gram matrix
    and carries the gradients' covariance. ``exact_with_representation`` is False.

    Args:
        gamma: step size of the weights.
        rho: L2 regularisation of the weights.
    """

    exact_with_representation: ClassVar[bool] = False

    def __init__(self, gamma: float = 1e-3, rho: float = 0.1) -> None:
        super().__init__()
        if gamma <= 0 or rho < 0:
            raise ValueError(f"MoDo needs gamma > 0 and rho >= 0; got gamma={gamma}, rho={rho}")
        self.gamma, self.rho = gamma, rho
        self.register_buffer("weights", torch.zeros(0, dtype=torch.float64))  # (T,) lambda

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        if self.weights.shape != (n,):
            self.weights = torch.full((n,), 1.0 / n, dtype=torch.float64, device=gram.device)
        lam = self.weights.to(gram)
        self.weights = project_simplex(lam - self.gamma * (gram @ lam + self.rho * lam))
        return self.weights.clone()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        adopt_saved_shapes(self, state_dict, prefix, ("weights",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
