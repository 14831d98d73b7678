"""Ways of combining the task losses (or their gradients) into one training signal."""

from mtl.balancers.base import Weighting
from mtl.balancers.gradient import GradientBalancer
from mtl.balancers.static import StaticWeights
from mtl.balancers.sum import Sum

__all__ = ["GradientBalancer", "StaticWeights", "Sum", "Weighting"]
