"""SDMGrad: MGDA regularised toward the mean direction, weights by projected gradient descent."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer, adopt_saved_shapes
from mtl.balancers.solvers import project_simplex


class SDMGrad(GradientBalancer):
    """Stochastic direction-oriented multi-objective gradient descent (Xiao et al.,
    "Direction-oriented Multi-objective Learning: Simple and Provable Stochastic
    Algorithms", NeurIPS 2023).

    The simplex weights ``w`` minimise ``0.5 ||G^T w + lam g0||^2`` with ``g0`` the mean
    gradient: MGDA's min-norm problem pulled toward the mean direction. Their gradient is
    ``Ĝ w + lam Ĝ 1 / T`` (``Ĝ = G / s^2``, ``s`` the mean gradient norm, as the authors'
    code scales it); ``w`` (buffer ``weights``, uniform at the start) takes ``n_iter``
    projected steps of heavy-ball gradient descent per training step, warm-started from
    the previous step (``torch.optim.SGD`` with ``lr`` and ``momentum``, its momentum fresh
    each step, as the authors' code and LibMTL). The update is
    ``(G^T w + lam g0) / (1 + lam)``, i.e. weights ``(w + lam / T) / (1 + lam)``: with
    ``lam = 0`` and converged steps MGDA's min-norm point, for large ``lam`` the mean.

    The paper estimates the inner products ``Ĝ`` from two independent samples and the
    update from a third (unbiased in expectation); here all three are this step's
    gradients (one backward per task, no extra pass), which biases ``Ĝ`` by the
    gradients' covariance. ``exact_with_representation`` is False.

    Args:
        lam: weight of the mean direction (the paper's ``lambda``).
        n_iter: projected steps of the weights per training step.
        lr: their step size (on the scaled Gram matrix).
        momentum: their heavy-ball momentum.
    """

    exact_with_representation: ClassVar[bool] = False

    def __init__(self, lam: float = 0.3, n_iter: int = 20, lr: float = 5.0, momentum: float = 0.5) -> None:
        super().__init__()
        if lam < 0 or n_iter < 1 or lr <= 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"SDMGrad needs lam >= 0, n_iter >= 1, lr > 0 and 0 <= momentum < 1; got {lam}, {n_iter}, {lr}, {momentum}"
            )
        self.lam, self.n_iter, self.lr, self.momentum = lam, n_iter, lr, momentum
        self.register_buffer("weights", torch.zeros(0, dtype=torch.float64))  # (T,) w

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        if self.weights.shape != (n,):
            self.weights = torch.full((n,), 1.0 / n, dtype=torch.float64, device=gram.device)
        scale = gram.diagonal().clamp_min(0.0).sqrt().mean()
        scaled = gram / (scale**2 + 1e-8)  # (T, T), as the authors' code
        toward_mean = self.lam * scaled.mean(1)  # (T,) lam Ĝ 1 / T
        w = self.weights.to(gram)
        velocity = torch.zeros_like(w)
        for i in range(self.n_iter):
            grad = scaled @ w + toward_mean  # (T,)
            velocity = grad if i == 0 else self.momentum * velocity + grad
            w = project_simplex(w - self.lr * velocity)
        self.weights = w
        return (w + self.lam / n) / (1.0 + self.lam)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        adopt_saved_shapes(self, state_dict, prefix, ("weights",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
