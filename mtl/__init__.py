"""mtl: multi-task learning for NLP on PyTorch Lightning.

The public API: encoders, heads, balancers, the module, the data module and transfer.
"""

from mtl.balancers import StaticWeights, Sum, Weighting
from mtl.data import MultiTaskDataModule, Task, TaskSampler, TokenizerSpec
from mtl.encoders import CNNEncoder, Encoder, EncoderOutput, LSTMEncoder, TransformerEncoder
from mtl.heads import (
    ClassificationHead,
    DenoisingHead,
    MaskedLMHead,
    MultiLabelHead,
    PairClassificationHead,
    PairRegressionHead,
    RegressionHead,
    TaggingHead,
    TaskHead,
)
from mtl.loaded_run import LoadedRun, load_run
from mtl.module import MultiTaskModule
from mtl.transfer import Transfer

__version__ = "0.1.0"

__all__ = [
    "CNNEncoder",
    "ClassificationHead",
    "DenoisingHead",
    "Encoder",
    "EncoderOutput",
    "LSTMEncoder",
    "LoadedRun",
    "MaskedLMHead",
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
    "Transfer",
    "TransformerEncoder",
    "Weighting",
    "load_run",
]
