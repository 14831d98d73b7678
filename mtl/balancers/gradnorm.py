"""GradNorm: learn task weights that equalise the weighted gradient norms' training rates."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class GradNorm(GradientBalancer):
    """Gradient normalisation (Chen et al., "GradNorm: Gradient Normalization for Adaptive
    Loss Balancing in Deep Multitask Networks", ICML 2018).

    Keeps task weights ``w`` (buffer ``weights``, summing to ``T``) and the first step's
    losses ``L_i(0)`` (buffer ``initial_losses``). Each step returns the current ``w`` and
    then takes one gradient step of rate ``lr`` on

        ``sum_i | w_i ||g_i|| - mean_j(w_j ||g_j||) * r_i^alpha |``,

    with ``||g_i|| = sqrt(G[i, i])``, inverse training rates
    ``r_i = (L_i / L_i(0)) / mean_j(L_j / L_j(0))`` and the target treated as a constant,
    as in the paper. The step's gradient is ``sign(w_i ||g_i|| - target_i) ||g_i||``;
    the weights are then floored at ``1e-6`` (the paper does not say how it keeps them
    positive) and renormalised to sum to ``T``. Tasks that train slower (higher ``r_i``)
    get a larger target and so a larger weight.

    The paper measures ``||g_i||`` on the last shared layer's weights; here it is the
    norm of whatever gradients the module supplies (all shared parameters, or the shared
    representation), so ``exact_with_representation`` is False: representation
    gradient norms are a different (if related) quantity.

    Args:
        alpha: strength of the pull toward equal training rates (0: equal gradient norms).
        lr: learning rate of the weight update.
    """

    def __init__(self, alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__()
        if lr <= 0:
            raise ValueError(f"GradNorm: lr must be > 0; got {lr}")
        self.alpha = alpha
        self.lr = lr
        self.register_buffer("weights", torch.zeros(0, dtype=torch.float64))  # (T,)
        self.register_buffer("initial_losses", torch.zeros(0, dtype=torch.float64))  # (T,)

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        losses = losses.detach().to(gram)
        n = gram.shape[0]
        if self.weights.shape != (n,):  # first step (or a new task count): start from 1s
            self.weights = torch.ones(n, dtype=torch.float64, device=gram.device)
            self.initial_losses = losses.abs().clamp_min(1e-12)
        weights = self.weights.to(gram)  # (T,) used for this step
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,) ||g_i||
        weighted = weights * norms  # (T,) ||w_i g_i||
        ratios = losses / self.initial_losses.to(gram)  # (T,) L_i / L_i(0)
        rates = ratios / ratios.mean().clamp_min(1e-12)  # (T,) r_i
        target = weighted.mean() * rates.clamp_min(0.0).pow(self.alpha)  # (T,) a constant
        step = torch.sign(weighted - target) * norms  # (T,) d/dw_i of the GradNorm loss
        updated = (weights - self.lr * step).clamp_min(1e-6)
        self.weights = updated * (n / updated.sum())
        return weights

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The buffers' shapes are the task count, known only at the first step: adopt the saved ones.
        for name in ("weights", "initial_losses"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
