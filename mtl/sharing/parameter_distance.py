"""Soft parameter sharing: one encoder per task, pulled together by an L2 penalty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from mtl.encoders.output import EncoderOutput
from mtl.sharing.base import Alignment

DistanceKind = Literal["mean", "pairwise"]


class ParameterDistance(Alignment):
    """Squared L2 distance between corresponding parameters of the task encoders.

    Soft parameter sharing after Duong et al. (2015), "Low resource dependency parsing:
    cross-lingual parameter sharing in a neural network parser" (ACL): every task keeps
    its own encoder and a penalty on the distance between their parameters replaces hard
    tying. (Yang & Hospedales, 2017, "Trace norm regularised deep multi-task learning",
    use a trace norm over the stacked parameters instead; not implemented here.)

    With ``K`` distinct encoders and parameters ``θ_1 .. θ_K`` (all parameters of one
    encoder flattened into one vector, matched by name):

    - ``"mean"``: ``sum_k ||θ_k - θ̄||²`` with ``θ̄ = (1/K) sum_k θ_k``. ``θ̄`` is not
      detached, yet the gradient is exactly ``∂/∂θ_s = 2 (θ_s - θ̄)``: the extra term
      through ``θ̄``, ``-(2/K) sum_k (θ_k - θ̄)``, is zero because deviations from the
      mean sum to zero. Each encoder is pulled towards the current mean.
    - ``"pairwise"``: ``sum_{s<t} ||θ_s - θ_t||²`` (equal to ``K`` times the ``"mean"``
      value), gradient ``2 K (θ_s - θ̄)``.

    Tasks that share one encoder module count once. The penalty covers every encoder in
    ``encoders``, also those of tasks not trained at this step; ``outputs`` is unused.

    Args:
        weight: multiplier of the distance in the training loss.
        kind: ``"mean"`` (distance to the mean encoder) or ``"pairwise"``.
        include_embeddings: also penalise ``nn.Embedding`` tables (token and learned
            position embeddings); set False to let each task keep its own embeddings.
    """

    needs_separate_encoders: ClassVar[bool] = True

    def __init__(self, weight: float = 1e-3, kind: DistanceKind = "mean", include_embeddings: bool = True) -> None:
        super().__init__(weight)
        if kind not in ("mean", "pairwise"):
            raise ValueError(f"ParameterDistance: kind={kind!r} must be 'mean' or 'pairwise'")
        self.kind = kind
        self.include_embeddings = include_embeddings

    def distance(self, encoders: Mapping[str, nn.Module], outputs: Mapping[str, EncoderOutput]) -> Tensor:
        groups = self._matched_parameters(encoders)  # name -> [θ_1, ..., θ_K]
        total: Tensor | None = None
        for params in groups.values():
            if self.kind == "mean":
                stacked = torch.stack(params)  # (K, *shape)
                term = (stacked - stacked.mean(dim=0)).pow(2).sum()
            else:
                term = sum((params[s] - params[t]).pow(2).sum() for s in range(len(params)) for t in range(s + 1, len(params)))
            total = term if total is None else total + term
        if total is None:  # nothing to compare, e.g. only embeddings and include_embeddings=False
            first = next(iter(encoders.values()))
            return torch.zeros((), device=_device_of(first))
        return total

    def _matched_parameters(self, encoders: Mapping[str, nn.Module]) -> dict[str, list[Tensor]]:
        """Each parameter name to its tensor in every distinct encoder, after checking that
        all encoders have the same parameters with the same shapes."""
        distinct: dict[int, tuple[str, nn.Module]] = {}
        for task, encoder in encoders.items():
            distinct.setdefault(id(encoder), (task, encoder))
        if len(distinct) < 2:
            raise ValueError(
                f"ParameterDistance needs at least 2 distinct encoders to compare, but tasks {sorted(encoders)} "
                "share a single encoder; build one encoder per task (needs_separate_encoders) or use "
                "RepresentationAlignment with a shared encoder"
            )
        (ref_task, ref), *others = distinct.values()
        ref_params = self._parameters_of(ref)
        groups = {name: [p] for name, p in ref_params.items()}
        for task, encoder in others:
            params = self._parameters_of(encoder)
            missing, extra = sorted(set(ref_params) - set(params)), sorted(set(params) - set(ref_params))
            if missing or extra:
                name = (missing or extra)[0]
                raise ValueError(
                    f"ParameterDistance: the encoders of tasks {ref_task!r} and {task!r} have different parameters "
                    f"(e.g. {name!r}; only in {ref_task!r}: {missing[:5]}, only in {task!r}: {extra[:5]}); "
                    "soft sharing needs every task's encoder built with the same architecture"
                )
            for name, p in params.items():
                if p.shape != ref_params[name].shape:
                    raise ValueError(
                        f"ParameterDistance: parameter {name!r} has shape {tuple(ref_params[name].shape)} in the "
                        f"encoder of task {ref_task!r} but {tuple(p.shape)} in that of task {task!r}; soft sharing "
                        "needs every task's encoder built with the same sizes"
                    )
                groups[name].append(p)
        return groups

    def _parameters_of(self, encoder: nn.Module) -> dict[str, Tensor]:
        params = dict(encoder.named_parameters())
        if not self.include_embeddings:
            for prefix, module in encoder.named_modules():
                if isinstance(module, nn.Embedding):
                    for name, _ in module.named_parameters(prefix=prefix):
                        params.pop(name, None)
        return params


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters(), torch.zeros(())).device
