"""mtl: multi-task learning for NLP on PyTorch Lightning.

The public API: encoders, heads, balancers, the module and the data module.
"""

from mtl.balancers import StaticWeights, Sum, Weighting
from mtl.data import MultiTaskDataModule, Task, TaskSampler, TokenizerSpec
from mtl.encoders import CNNEncoder, Encoder, EncoderOutput, LSTMEncoder, TransformerEncoder
from mtl.heads import (
    ClassificationHead,
    MultiLabelHead,
    PairClassificationHead,
    PairRegressionHead,
    RegressionHead,
    TaggingHead,
    TaskHead,
)
from mtl.module import MultiTaskModule

__version__ = "0.1.0"

__all__ = [
    "CNNEncoder",
    "ClassificationHead",
    "Encoder",
    "EncoderOutput",
    "LSTMEncoder",
    "MultiLabelHead",
    "MultiTaskDataModule",
    "MultiTaskModule",
    "PairClassificationHead",
    "PairRegressionHead",
    "RegressionHead",
    "StaticWeights",
    "Sum",
    "TaggingHead",
    "Task",
    "TaskHead",
    "TaskSampler",
    "TokenizerSpec",
    "TransformerEncoder",
    "Weighting",
]
