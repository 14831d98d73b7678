"""Freezing and unfreezing an encoder by its layer groups, and their learning-rate scales."""

from __future__ import annotations

from torch import nn

from mtl.encoders.base import Encoder


def group_of_parameters(encoder: Encoder) -> tuple[dict[int, int], int]:
    """``id(parameter) -> index`` of its layer group (0 = embeddings) and the number of
    groups. Parameters outside every group count as the top group."""
    groups = encoder.layer_groups()
    index = {id(p): i for i, group in enumerate(groups) for p in group.parameters()}
    top = len(groups) - 1
    return {id(p): index.get(id(p), top) for p in encoder.parameters()}, len(groups)


def freeze_lower(encoder: Encoder, frozen: int) -> None:
    """Freeze the lowest ``frozen`` layer groups (all of them when ``frozen`` equals the
    number of groups) and let the others train."""
    index, _ = group_of_parameters(encoder)
    for p in encoder.parameters():
        p.requires_grad_(index[id(p)] >= frozen)


def distinct(encoders: dict[str, nn.Module]) -> list[Encoder]:
    """Each encoder once (tasks share one under hard sharing)."""
    return list({id(e): e for e in encoders.values()}.values())
