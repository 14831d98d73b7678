"""Representation alignment: a distance between the tasks' representation distributions."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from mtl.encoders.output import EncoderOutput
from mtl.sharing.base import Alignment

RepresentationDistance = Literal["moments", "coral", "mmd"]
RepresentationSource = Literal["pooled", "tokens"]


class RepresentationAlignment(Alignment):
    """Pulls the distributions of the tasks' encoder representations together.

    Each task is encoded on its own batch, so the rows of two tasks do not correspond and
    the distance is between distributions (samples ``X_s (n_s, D)`` and ``X_t (n_t, D)``),
    averaged over the pairs of tasks trained at this step (0 with fewer than 2 tasks).
    Features are compared in float32.

    - ``"moments"``: ``||μ_s - μ_t||² + ||σ²_s - σ²_t||²`` with per-dimension means and
      (biased) variances: a squared central moment discrepancy of order 2 (Zellinger et
      al., 2017, "Central moment discrepancy (CMD) for domain-invariant representation
      learning", without its range normalisation).
    - ``"coral"``: ``||C_s - C_t||_F² / (4 D²)`` with ``C`` the unbiased ``(D, D)``
      feature covariance (Sun & Saenko, 2016, "Deep CORAL: correlation alignment for deep
      domain adaptation").
    - ``"mmd"``: biased estimate of the squared maximum mean discrepancy (Gretton et al.,
      2012, "A kernel two-sample test", JMLR) with the multi-kernel
      ``k(x, y) = sum_i exp(-||x - y||² / (2 σ_i²))`` (as in Long et al., 2015, DAN).
      ``bandwidths`` are relative: ``σ_i² = bandwidths[i] * m`` with ``m`` the mean
      squared distance between all rows of the pair (detached), so the kernels suit any
      feature scale and dimension. Costs ``O((n_s + n_t)² D)`` memory and time, which
      with ``use="tokens"`` grows with the number of real tokens.

    Args:
        weight: multiplier of the distance in the training loss.
        kind: ``"moments"``, ``"coral"`` or ``"mmd"``.
        bandwidths: for ``"mmd"``, the RBF kernels' ``σ²`` as multiples of the mean
            squared pairwise distance.
        use: compare the ``pooled`` vectors ``(B, D)``, or all real-token rows of
            ``hidden`` (``tokens``, ``(N_real, D)``).
    """

    needs_separate_encoders: ClassVar[bool] = False

    def __init__(
        self,
        weight: float = 0.1,
        kind: RepresentationDistance = "moments",
        bandwidths: list[float] = [0.5, 1, 2, 4],  # noqa: B006 - never mutated; a list so LightningCLI shows it
        use: RepresentationSource = "pooled",
    ) -> None:
        super().__init__(weight)
        if kind not in ("moments", "coral", "mmd"):
            raise ValueError(f"RepresentationAlignment: kind={kind!r} must be 'moments', 'coral' or 'mmd'")
        if use not in ("pooled", "tokens"):
            raise ValueError(f"RepresentationAlignment: use={use!r} must be 'pooled' or 'tokens'")
        if not bandwidths or any(not b > 0 for b in bandwidths):
            raise ValueError(f"RepresentationAlignment: bandwidths={bandwidths} must be a non-empty list of numbers > 0")
        self.kind = kind
        self.bandwidths = [float(b) for b in bandwidths]
        self.use = use

    def distance(self, encoders: Mapping[str, nn.Module], outputs: Mapping[str, EncoderOutput]) -> Tensor:
        features = {task: self._features(task, out) for task, out in outputs.items()}  # task -> (n, D)
        pairs = list(combinations(features, 2))
        if not pairs:
            first = next(iter(features.values()), None)
            return torch.zeros((), device=None if first is None else first.device)
        dims = {task: x.shape[1] for task, x in features.items()}
        if len(set(dims.values())) > 1:
            raise ValueError(
                f"RepresentationAlignment: the tasks' representations have different sizes {dims}; "
                "alignment compares representations of one size D"
            )
        total = sum(self.pair_distance(features[s], features[t]) for s, t in pairs)
        return total / len(pairs)

    def pair_distance(self, x: Tensor, y: Tensor) -> Tensor:
        """The distance between samples ``x (n, D)`` and ``y (m, D)``, a scalar."""
        if self.kind == "moments":
            return moment_distance(x, y)
        if self.kind == "coral":
            return coral_distance(x, y)
        return mmd2(x, y, self.bandwidths)

    def _features(self, task: str, output: EncoderOutput) -> Tensor:
        if self.use == "pooled":
            x = output.pooled  # (B, D)
        else:
            x = output.hidden[output.mask.bool()]  # (N_real, D)
        if x.shape[0] == 0:
            raise ValueError(f"RepresentationAlignment: task {task!r} has no {self.use} rows to compare at this step")
        return x.float()


def moment_distance(x: Tensor, y: Tensor) -> Tensor:
    """``||mean(x) - mean(y)||² + ||var(x) - var(y)||²`` over the rows of ``x (n, D)``,
    ``y (m, D)``, with biased (population) variances."""
    mean_x, mean_y = x.mean(dim=0), y.mean(dim=0)  # (D,)
    var_x, var_y = x.var(dim=0, unbiased=False), y.var(dim=0, unbiased=False)  # (D,)
    return (mean_x - mean_y).pow(2).sum() + (var_x - var_y).pow(2).sum()


def covariance(x: Tensor) -> Tensor:
    """Unbiased covariance ``(D, D)`` of the rows of ``x (n, D)``; zero when ``n == 1``."""
    centred = x - x.mean(dim=0, keepdim=True)  # (n, D)
    return centred.T @ centred / max(x.shape[0] - 1, 1)  # (D, D)


def coral_distance(x: Tensor, y: Tensor) -> Tensor:
    """CORAL loss ``||C_x - C_y||_F² / (4 D²)`` (Sun & Saenko, 2016)."""
    d = x.shape[1]
    return (covariance(x) - covariance(y)).pow(2).sum() / (4 * d * d)


def mmd2(x: Tensor, y: Tensor, bandwidths: list[float]) -> Tensor:
    """Biased multi-kernel RBF MMD² between ``x (n, D)`` and ``y (m, D)`` (Gretton et al.,
    2012): ``mean k(x, x') + mean k(y, y') - 2 mean k(x, y)``, with
    ``k = sum_i exp(-d² / (2 σ_i²))`` and ``σ_i² = bandwidths[i] * mean(d²)``."""
    n = x.shape[0]
    z = torch.cat([x, y])  # (n + m, D)
    norms = z.pow(2).sum(dim=1)  # (n + m,)
    sq = (norms[:, None] + norms[None, :] - 2 * z @ z.T).clamp_min(0)  # (n + m, n + m); smooth at 0, unlike cdist
    scale = sq.detach().mean().clamp_min(1e-12)
    kernel = sum(torch.exp(-sq / (2 * b * scale)) for b in bandwidths)  # (n + m, n + m)
    k_xx, k_yy, k_xy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return k_xx.mean() + k_yy.mean() - 2 * k_xy.mean()
