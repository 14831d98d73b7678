"""The training step: the loss-weighted step (automatic optimisation) and the
gradient-balanced step (per-task gradients, Gram matrix, one update), with fp16 loss
scaling, accumulation, skipped non-finite steps and the DDP reductions they need."""

from mtl.training.gradient_step import GradientBalancedStep
from mtl.training.loss_step import LossWeightedStep

__all__ = ["GradientBalancedStep", "LossWeightedStep"]
