"""What the data loses, in the loggers at the start of fit."""

from __future__ import annotations

import lightning as L


class DataSummary(L.Callback):
    """Logs, at step 0 of fit, every split's count of labelled words that produce no
    sub-word token as ``data/<task>/<split>/words_without_subword`` to every logger
    (metrics.csv, W&B), when there are any (see :mod:`mtl.data.words_without_subword`)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        found = getattr(trainer.datamodule, "words_without_subword", None) or {}
        metrics = {summary.metric: summary.count for splits in found.values() for summary in splits.values()}
        if not metrics or not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=0)
