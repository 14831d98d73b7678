"""Distance-based alignment: soft parameter sharing and representation alignment."""

from __future__ import annotations

from mtl.sharing.base import Alignment
from mtl.sharing.parameter_distance import ParameterDistance
from mtl.sharing.representation import RepresentationAlignment

__all__ = ["Alignment", "ParameterDistance", "RepresentationAlignment"]
