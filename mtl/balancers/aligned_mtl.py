"""Aligned-MTL: make the task gradients orthogonal and of equal norm, then add them."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class AlignedMTL(GradientBalancer):
    """Aligned-MTL (Senushkin et al., "Independent Component Alignment for Multi-Task
    Learning", CVPR 2023).

    Aligns the gradient system to a well-conditioned one (condition number 1): with the
    eigendecomposition ``G = V diag(lam) V^T`` (eigenvalues below
    ``max(lam) * T * eps_float32`` dropped, as the official code's float32 tolerance), the
    aligned gradients are the rows of ``B J`` with
    ``B = sigma * V diag(lam^{-1/2}) V^T``, whose Gram matrix
    ``B G B = sigma^2 V V^T`` is ``sigma^2`` times the identity on the gradients' span:
    orthogonal, all of norm ``sigma``. The scale ``sigma`` is ``sqrt(min lam)``
    (``"min"``), ``sqrt(median lam)`` (``"median"``) or ``sqrt(mean lam)`` (``"rmse"``).
    The update is the *sum* of the aligned gradients, ``d = J^T B 1``, so the weights are
    ``w = B 1`` (the official ``ProcrustesSolver`` and LibMTL sum over tasks; no ``1/T``).

    ``exact_with_representation`` is True: the paper's Aligned-MTL-UB aligns gradients of
    the shared representation and backpropagates the result through the encoder, the
    upper-bound variant that mirrors MGDA-UB, as in the official code's ``amtlub``.

    Args:
        scale: the choice of ``sigma`` above.
    """

    exact_with_representation: ClassVar[bool] = True

    def __init__(self, scale: Literal["min", "median", "rmse"] = "min") -> None:
        super().__init__()
        if scale not in ("min", "median", "rmse"):
            raise ValueError(f"AlignedMTL: scale must be one of 'min', 'median', 'rmse'; got {scale!r}")
        self.scale = scale

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        return self.alignment(gram).sum(1)

    def alignment(self, gram: Tensor) -> Tensor:
        """The ``(T, T)`` matrix ``B``: the aligned gradients are the rows of ``B J``."""
        gram = gram.to(torch.float64)
        n = gram.shape[0]
        lam, vec = torch.linalg.eigh(0.5 * (gram + gram.T))  # ascending
        tol = float(lam.max()) * n * torch.finfo(torch.float32).eps
        keep = lam > tol
        if not bool(keep.any()):  # every gradient vanished: nothing to align
            return torch.eye(n, dtype=gram.dtype, device=gram.device)
        lam, vec = lam[keep], vec[:, keep]  # (r,), (T, r)
        if self.scale == "min":
            sigma2 = lam.min()
        elif self.scale == "median":
            sigma2 = lam.median()
        else:
            sigma2 = lam.mean()
        return (vec * (sigma2 / lam).sqrt()) @ vec.T  # (T, T) sigma V lam^{-1/2} V^T
