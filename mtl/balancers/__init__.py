"""Ways of combining the task losses (or their gradients) into one training signal."""

from mtl.balancers.base import Weighting
from mtl.balancers.dwa import DynamicWeightAverage
from mtl.balancers.famo import FAMO
from mtl.balancers.geometric_mean import GeometricMean
from mtl.balancers.gradient import GradientBalancer
from mtl.balancers.rlw import RandomLossWeighting
from mtl.balancers.static import StaticWeights
from mtl.balancers.sum import Sum
from mtl.balancers.uncertainty import UncertaintyWeighting

__all__ = [
    "FAMO",
    "DynamicWeightAverage",
    "GeometricMean",
    "GradientBalancer",
    "RandomLossWeighting",
    "StaticWeights",
    "Sum",
    "UncertaintyWeighting",
    "Weighting",
]
