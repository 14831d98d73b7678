"""The share of the training text that starts from word vectors, at the start of fit."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.utilities import rank_zero_info

from mtl.data.datamodule import MultiTaskDataModule
from mtl.encoders.word_vectors import vector_coverage

#: the metric's name in the loggers (metrics.csv, W&B), at step 0
COVERAGE = "word_vectors/coverage"


class WordVectorCoverage(L.Callback):
    """When the encoder started from word vectors: one line (found N of V word types,
    coverage X% of training tokens) and ``word_vectors/coverage`` (a fraction) and
    ``word_vectors/found_types`` to every logger (see :class:`mtl.encoders.word_vectors.VectorCoverage`)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rows = pl_module.model.vector_rows
        datamodule = trainer.datamodule
        if rows is None or not isinstance(datamodule, MultiTaskDataModule) or not trainer.is_global_zero:
            return
        coverage = vector_coverage(rows, datamodule.training_token_counts(), datamodule.special_ids)
        rank_zero_info(coverage.line())
        for logger in trainer.loggers:
            logger.log_metrics({COVERAGE: coverage.share, "word_vectors/found_types": coverage.found_types}, step=0)
