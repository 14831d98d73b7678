"""Task heads: each owns its output layer, loss, metrics and decoding."""

from __future__ import annotations

from mtl.heads.base import TaskHead
from mtl.heads.classification import ClassificationHead, PairClassificationHead
from mtl.heads.denoising import DenoisingHead
from mtl.heads.masked_lm import MaskedLMHead
from mtl.heads.multilabel import MultiLabelHead
from mtl.heads.pooling import Pooler, Pooling
from mtl.heads.regression import PairRegressionHead, RegressionHead
from mtl.heads.tagging import TaggingHead

__all__ = [
    "ClassificationHead",
    "DenoisingHead",
    "MaskedLMHead",
    "MultiLabelHead",
    "PairClassificationHead",
    "PairRegressionHead",
    "Pooler",
    "Pooling",
    "RegressionHead",
    "TaggingHead",
    "TaskHead",
]
