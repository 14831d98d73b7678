"""ConFIG: the conflict-free direction with equal cosine to every task gradient."""

from __future__ import annotations

import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer


class ConFIG(GradientBalancer):
    """Conflict-free inverse gradients (Liu et al., "ConFIG: Towards Conflict-free
    Training of Physics Informed Neural Networks", ICLR 2025; torchjd's ``ConFIG``).

    With the unit task gradients ``u_t = g_t / ||g_t||`` as the rows of ``U``, the
    direction is ``b = U^+ 1`` (the least-norm vector with ``u_t . b = 1`` for every
    task, so ``d`` has the same positive cosine with every task gradient), made a unit
    vector ``e = b / ||b||`` and scaled by the sum of the projections:
    ``d = (sum_t g_t . e) e`` (the paper's Equation 2 with equal preferences).

    In Gram terms, ``U^+ = U^T (U U^T)^+`` and ``U U^T = N^-1 G N^-1`` (``N`` the diagonal
    of the norms), so ``b = sum_t (a_t / ||g_t||) g_t`` with ``a = (N^-1 G N^-1)^+ 1``,
    ``||b||^2 = a^T N^-1 G N^-1 a`` and ``sum_t g_t . e = 1^T G c`` for ``e``'s weights
    ``c``. The pseudo-inverse is of the ``T x T`` cosine matrix (relative cut-off
    ``1e-12``, i.e. singular values of ``U`` below ``1e-6`` of the largest are dropped; on
    ``U`` itself torch's default cut-off is about ``P * 2e-16``). A task whose gradient
    vanished has no unit direction (torchjd: a zero row) and gets weight 0; if ``b = 0``
    (the unit gradients sum to nothing in their span, e.g. ``g_2 = -g_1``) the update is 0.

    ``exact_with_representation`` is False: equal cosines with representation gradients
    are not equal cosines with the parameter gradients.
    """

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        gram = gram.to(torch.float64)
        norms = gram.diagonal().clamp_min(0.0).sqrt()  # (T,) ||g_t||
        active = norms > 1e-12 * float(norms.max())
        inv = torch.where(active, 1.0 / norms.clamp_min(1e-300), torch.zeros_like(norms))  # (T,) 1 / ||g_t||, 0 if vanished
        cosines = gram * torch.outer(inv, inv)  # (T, T) U U^T
        a = torch.linalg.pinv(cosines, rtol=1e-12, hermitian=True) @ active.to(gram.dtype)  # (T,) b = U^T a
        length = float(a @ cosines @ a)  # ||b||^2
        if length <= 1e-24:
            return torch.zeros_like(norms)
        unit = a * inv / length**0.5  # (T,) weights of e on the g_t
        return (gram @ unit).sum() * unit
