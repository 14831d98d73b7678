"""The ``mtl`` command's checkpoint callback: ``last.ckpt`` without gaps."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger

RUN_KEY = "mtl_run"  # the checkpoint's record of its run, read by ``mtl fit --ckpt_path``


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` (``--checkpoint.*``), with a ``last.ckpt`` that a
    killed run can always resume from:

    - with ``every_n_train_steps``, ``last.ckpt`` is written at every such step, also
      while the monitored metric (``val/average``) does not exist yet, before the first
      validation, and at the last batch of an epoch. Lightning postpones the whole save
      until the next validation then; the top-k ``best-*`` checkpoint still waits for it;
    - the final state of training is always in ``last.ckpt`` (Lightning leaves the last
      save of ``every_n_train_steps`` there, e.g. step 50 of 52);
    - a NaN or infinite monitored score (a diverged run) is never ranked among the best:
      Lightning ranks NaN last but keeps it while nothing else is there, so
      ``best_model_path`` would name a diverged model.

    Each checkpoint also records the W&B run id, so that ``mtl fit --ckpt_path`` continues
    that W&B run. The callback state keeps Lightning's key, so checkpoints of either class
    restore into the other.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_written_at: int | None = None  # global step of the state in last.ckpt

    @property
    def state_key(self) -> str:
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def check_monitor_top_k(self, trainer: L.Trainer, current: torch.Tensor | None = None) -> bool:
        if current is not None and not bool(torch.isfinite(torch.as_tensor(current))):
            return False
        return super().check_monitor_top_k(trainer, current)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        super()._save_last_checkpoint(trainer, monitor_candidates)
        if self.save_last:
            self._last_written_at = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        n = self._every_n_train_steps
        if n < 1 or trainer.global_step % n != 0 or not self._may_write_last(trainer):
            return
        # Lightning deferred this save to the next validation: write last.ckpt now, and
        # leave the step unmarked so that the deferred top-k save still happens there.
        saved_at = self._last_global_step_saved
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._last_global_step_saved = saved_at

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self._may_write_last(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _may_write_last(self, trainer: L.Trainer) -> bool:
        return (
            self.save_last is True  # not "link": that links to the newest top-k file
            and self._last_written_at != trainer.global_step
            and not trainer.fast_dev_run
            and not trainer.sanity_checking
            and trainer.state.fn == "fit"
        )

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        record = checkpoint.setdefault(RUN_KEY, {})
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and logger.version:  # the run's id (None before it starts)
                record["wandb_id"] = str(logger.version)
