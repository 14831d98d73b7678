"""Ways of combining the task losses into one training signal."""

from mtl.balancers.base import Weighting
from mtl.balancers.static import StaticWeights
from mtl.balancers.sum import Sum

__all__ = ["Weighting", "Sum", "StaticWeights"]
