"""MoCo: task weights from a tracked (moving-average) Gram matrix of the task gradients."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer, adopt_saved_shapes
from mtl.balancers.solvers import project_simplex


class MoCo(GradientBalancer):
    """Multi-objective gradient correction (Fernando et al., "Mitigating Gradient Bias in
    Multi-objective Learning: A Provably Convergent Approach", ICLR 2023).

    The paper tracks each task gradient with a moving average ``y_t <- y_t - beta_k
    (y_t - g_t)`` (``beta_k = beta / k^beta_sigma`` at step ``k``), takes one projected
    gradient step on the weights of the min-norm problem over the *tracked* gradients,
    ``lambda <- Pi(lambda - gamma_k (Y Y^T + rho I) lambda)`` (``gamma_k = gamma /
    k^gamma_sigma``, ``Pi`` the projection onto the simplex), and updates along
    ``Y^T lambda``. As in the authors' code (and LibMTL), each ``g_t`` is first rescaled to
    ``L_t g_t / ||g_t||`` (``normalize``).

    What is computed here, from the Gram matrix alone:

    - the tracked Gram ``M ~ Y Y^T`` (buffer ``tracked``) is the same moving average
      applied to the Gram matrices, ``M <- M - beta_k (M - G_t)``, started at the first
      step's ``G`` (as if ``y_0 = g_1``; LibMTL starts ``y`` at 0). It equals ``Y Y^T``
      when the gradients do not change between steps (and with ``beta_k = 1``); with
      noisy gradients it keeps their covariance, which the tracking of ``Y`` averages out. The exact ``Y Y^T`` needs the inner products of
      this step's gradients with the tracked ones, i.e. a ``(T, P)`` copy of ``Y``.
    - the update is this step's gradients weighted by ``lambda`` (the returned weights
      are ``lambda_t L_t / ||g_t||``), not ``Y^T lambda``: the two agree for ``beta_k = 1``.

    Cost: ``O(T^2)`` state, no extra pass (the paper's ``Y`` costs ``T x P`` memory).
    Under DDP every process sees the global Gram matrix and keeps the same state.
    ``exact_with_representation`` is False.

    Args:
        beta: tracking rate of the gradients (1: no tracking).
        beta_sigma: decay exponent of the tracking rate.
        gamma: step size of the weights.
        gamma_sigma: decay exponent of the step size.
        rho: L2 regularisation of the weights' problem.
        normalize: rescale each gradient to ``L_t g_t / ||g_t||`` first.
        projection: ``"simplex"`` (the paper's projected step) or ``"softmax"`` (LibMTL's
            ``softmax(lambda - step)``).
    """

    exact_with_representation: ClassVar[bool] = False

    def __init__(
        self,
        beta: float = 0.5,
        beta_sigma: float = 0.5,
        gamma: float = 0.1,
        gamma_sigma: float = 0.5,
        rho: float = 0.0,
        normalize: bool = True,
        projection: Literal["simplex", "softmax"] = "simplex",
    ) -> None:
        super().__init__()
        if not 0.0 < beta <= 1.0 or gamma <= 0 or rho < 0 or beta_sigma < 0 or gamma_sigma < 0:
            raise ValueError(
                f"MoCo needs 0 < beta <= 1, gamma > 0, rho >= 0 and non-negative decay exponents; "
                f"got beta={beta}, gamma={gamma}, rho={rho}, beta_sigma={beta_sigma}, gamma_sigma={gamma_sigma}"
            )
        if projection not in ("simplex", "softmax"):
            raise ValueError(f"MoCo: projection must be 'simplex' or 'softmax'; got {projection!r}")
        self.beta, self.beta_sigma, self.gamma, self.gamma_sigma, self.rho = beta, beta_sigma, gamma, gamma_sigma, rho
        self.normalize = normalize
        self.projection = projection
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("tracked", torch.zeros(0, 0, dtype=torch.float64))  # (T, T) M
        self.register_buffer("weights", torch.zeros(0, dtype=torch.float64))  # (T,) lambda

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        scales = self._scales(gram, losses.to(gram))  # (T,)
        current = gram * torch.outer(scales, scales)  # (T, T) Gram of the rescaled gradients
        if self.tracked.shape != (n, n):  # first step (or a new task count): start from this step
            self.step = torch.zeros((), dtype=torch.long, device=gram.device)
            self.tracked = current.clone()
            self.weights = torch.full((n,), 1.0 / n, dtype=torch.float64, device=gram.device)
        self.step = self.step + 1
        k = float(self.step)
        rate = self.beta / k**self.beta_sigma
        tracked = self.tracked.to(gram) - rate * (self.tracked.to(gram) - current)  # (T, T)
        lam = self.weights.to(gram)
        eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
        moved = lam - self.gamma / k**self.gamma_sigma * (tracked + self.rho * eye) @ lam  # (T,)
        lam = project_simplex(moved) if self.projection == "simplex" else torch.softmax(moved, 0)
        self.tracked, self.weights = tracked, lam
        return lam * scales

    def _scales(self, gram: Tensor, losses: Tensor) -> Tensor:
        if not self.normalize:
            return torch.ones_like(losses)
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,)
        scales = losses / (norms + 1e-8)  # (T,) L_t / ||g_t||, as the authors' code
        # A vanished gradient stays zero whatever its weight: give it none rather than L_t / 1e-8.
        return torch.where(norms > 1e-12 * float(norms.max()), scales, torch.zeros_like(scales))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        adopt_saved_shapes(self, state_dict, prefix, ("tracked", "weights"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
