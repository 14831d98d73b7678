"""ExcessMTL: raise the weight of the tasks farthest from their own optimum."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class ExcessMTL(GradientBalancer):
    """Excess-risk weighting (He et al., "Robust Multi-Task Learning with Excess Risks",
    ICML 2024), following LibMTL's ``ExcessMTL`` (the authors' own port).

    A task's excess risk ``L_t(theta) - L_t(theta_t*)`` is estimated from a local quadratic
    model with a diagonal Hessian: ``e_t = g_t^T diag(h_t)^-1 g_t`` with
    ``h_t = sqrt(sum_{s <= k} g_{t,s}^2 + 1e-7)`` (element-wise; AdaGrad's running second
    moment of the task's gradient, buffer ``squares``). The first step's estimates are the
    reference (buffer ``initial``); from the second step on, the weights take an
    exponentiated-gradient (mirror ascent) step,
    ``w_t <- w_t exp(step_size * e_t / e_t(initial))``, renormalised to sum to ``T``
    (buffer ``loss_weights``; all 1 at the start). Tasks whose excess risk stays high gain
    weight; a task whose first estimate was 0 gets no push of its own (only the
    renormalisation moves it).

    Needs more than the Gram matrix: the estimate is a per-coordinate statistic, so the
    balancer declares ``needs_gradients`` and receives the ``(T, P)`` gradients of the
    dense shared parameters. It therefore works in ``parameters`` mode only (LibMTL's
    representation variant sums per-sample gradients of a fixed-size feature; the
    representations here change shape with the sequence length). The token-embedding
    table's gradients (kept sparse, by row) do not enter the estimate. The accumulated
    squares cost one more ``(T, P)`` tensor, the size of the task gradients.
    The state restarts when the number of tasks or parameters changes.

    Args:
        step_size: LibMTL's ``robust_step_size`` (its default ``1e-2``).
        eps: added to the running sum of squares before the square root.
    """

    needs_gradients: ClassVar[bool] = True

    def __init__(self, step_size: float = 1e-2, eps: float = 1e-7) -> None:
        super().__init__()
        if step_size < 0 or eps <= 0:
            raise ValueError(f"ExcessMTL needs step_size >= 0 and eps > 0; got {step_size}, {eps}")
        self.step_size = step_size
        self.eps = eps
        self.register_buffer("squares", torch.zeros(0, 0))  # (T, P) sum of squared gradients
        self.register_buffer("initial", torch.zeros(0, dtype=torch.float64))  # (T,) first excess risks
        self.register_buffer("loss_weights", torch.zeros(0, dtype=torch.float64))  # (T,)

    def forward(self, gram: Tensor, losses: Tensor, gradients: Tensor | None = None) -> Tensor:
        if gradients is None:
            raise ValueError(
                "ExcessMTL needs the task gradients of the shared parameters (a per-coordinate estimate): "
                "use gradient_mode 'parameters' with an encoder that has dense trainable parameters"
            )
        n = gram.shape[0]
        if self.squares.shape != gradients.shape:
            self.squares = torch.zeros_like(gradients)
            self.initial = torch.zeros(0, dtype=torch.float64, device=gram.device)
            self.loss_weights = torch.ones(n, dtype=torch.float64, device=gram.device)
        self.squares = self.squares + gradients.square()
        risks = (gradients.square() / (self.squares + self.eps).sqrt()).sum(-1, dtype=torch.float64).to(gram.device)  # (T,)
        if self.initial.numel() == 0:
            self.initial = risks
        else:
            initial = self.initial.to(risks)
            ratio = torch.where(initial > 0, risks / initial.clamp_min(1e-300), torch.zeros_like(risks))
            weights = self.loss_weights.to(risks) * torch.exp(self.step_size * ratio)
            self.loss_weights = weights / weights.sum() * n
        return self.loss_weights.to(gram).clone()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The buffers' shapes are the task and parameter counts, known only at the first step.
        for name in ("squares", "initial", "loss_weights"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
