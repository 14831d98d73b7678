"""mtl: multi-task learning for NLP on PyTorch Lightning.

The public API: encoders, heads, balancers, the module, the data module, transfer and
trained runs. Names are imported on first use (``from mtl import LSTMEncoder`` works as
always), so that ``import mtl`` alone, and the ``mtl`` command's help, start at once.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_PUBLIC: dict[str, str] = {
    "StaticWeights": "mtl.balancers",
    "Sum": "mtl.balancers",
    "Weighting": "mtl.balancers",
    "MultiTaskDataModule": "mtl.data",
    "Task": "mtl.data",
    "TaskSampler": "mtl.data",
    "TokenizerSpec": "mtl.data",
    "CNNEncoder": "mtl.encoders",
    "Encoder": "mtl.encoders",
    "EncoderOutput": "mtl.encoders",
    "LSTMEncoder": "mtl.encoders",
    "TransformerEncoder": "mtl.encoders",
    "ClassificationHead": "mtl.heads",
    "DenoisingHead": "mtl.heads",
    "MaskedLMHead": "mtl.heads",
    "MultiLabelHead": "mtl.heads",
    "PairClassificationHead": "mtl.heads",
    "PairRegressionHead": "mtl.heads",
    "RegressionHead": "mtl.heads",
    "TaggingHead": "mtl.heads",
    "TaskHead": "mtl.heads",
    "LoadedRun": "mtl.loaded_run",
    "load_run": "mtl.loaded_run",
    "MultiTaskModule": "mtl.module",
    "Transfer": "mtl.transfer",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mtl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
