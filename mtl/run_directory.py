"""The run's directory, ``runs/<name>/version_N``: the same one on every process, and
read without a collective (rank-zero-only code may not wait for the other processes)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger


def run_directory(trainer: Trainer) -> Path:
    """The run's directory (``runs/<name>/version_N``), read on this process alone.

    What ``trainer.log_dir`` gives, without its broadcast: ``trainer.log_dir`` is a
    collective, and rank-zero-only code that calls it waits forever for the other
    processes. On rank 0 this is rank 0's directory; on the others too once
    :func:`share_run_version` ran (:class:`SameRunVersion`, which the ``mtl`` command
    installs, runs it in ``setup``).
    """
    if trainer.loggers:
        logger = trainer.loggers[0]
        directory = logger.log_dir if isinstance(logger, (CSVLogger, TensorBoardLogger)) else logger.save_dir
        if directory:
            return Path(directory)
    return Path(trainer.default_root_dir)


def share_run_version(trainer: Trainer) -> None:
    """Fix rank 0's ``version_N`` on every process's CSV and TensorBoard loggers (a
    broadcast: every process must call it).

    Such a logger picks ``version_N`` by listing ``runs/<name>/`` on each process.
    Processes that start together (torchrun, SLURM's ``srun``) list it at different
    moments, before or after rank 0 has made its ``version_N``, and would name different
    directories.
    """
    loggers = [logger for logger in trainer.loggers if isinstance(logger, (CSVLogger, TensorBoardLogger))]
    if trainer.world_size == 1 or not loggers:
        return
    mine = [logger.version for logger in loggers] if trainer.is_global_zero else None
    versions = trainer.strategy.broadcast(mine)
    for logger, version in zip(loggers, versions):
        logger._version = version  # what the `version` property caches


class SameRunVersion(Callback):
    """Every process names rank 0's run directory (see :func:`share_run_version`), from
    ``setup`` on, which every process runs; :func:`run_directory` then needs no
    collective. The ``mtl`` command installs it first of all callbacks."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        share_run_version(trainer)
