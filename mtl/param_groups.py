"""The optimiser's parameter groups: weight decay or not, times a learning-rate scale."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn


def param_groups(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    lr: float,
    weight_decay: float,
    scales: dict[int, float | None] | None = None,
) -> list[dict[str, Any]]:
    """AdamW groups: weight decay for weight matrices, none for biases and normalisation
    weights; each at ``lr * scale``.

    Args:
        named_parameters: ``module.named_parameters()``.
        lr: the base learning rate.
        weight_decay: decay of the decayed groups.
        scales: ``id(parameter) -> scale`` (None leaves the parameter out, e.g. a frozen
            layer); parameters not named train at scale 1 when they require a gradient.

    Returns:
        The groups at scale 1 first (decayed, then not), then the others by falling
        scale; each group records its ``lr_scale``.
    """
    scales = scales or {}
    buckets: dict[tuple[float, bool], list[nn.Parameter]] = {(1.0, True): [], (1.0, False): []}
    for name, param in named_parameters:
        scale = scales.get(id(param), 1.0 if param.requires_grad else None)
        if scale is not None:
            buckets.setdefault((scale, param.ndim >= 2 and "norm" not in name), []).append(param)
    order = sorted(buckets, key=lambda key: (key[0] != 1.0, -key[0], not key[1]))
    return [
        {"params": buckets[key], "weight_decay": weight_decay if key[1] else 0.0, "lr": lr * key[0], "lr_scale": key[0]}
        for key in order
        if buckets[key] or key[0] == 1.0
    ]
