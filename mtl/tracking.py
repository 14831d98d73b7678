"""Experiment tracking with Weights & Biases that never waits on the network, and the run's
directory, the same one on every process."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger


def wandb_credentials_present() -> bool:
    """True when an API key is configured (environment or ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(Path.home() / ".netrc").authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class WandbTracker(WandbLogger):
    """Lightning's ``WandbLogger``, offline unless credentials are configured.

    Offline runs are written under ``save_dir/wandb`` and can be uploaded later with
    ``wandb sync``. ``WANDB_MODE=disabled`` turns W&B off entirely.

    Args:
        name: run name shown in W&B.
        project: W&B project.
        save_dir: where the local run files go.
        offline: force offline (True) or online (False); None decides from credentials.
        group: W&B group, e.g. an experiment with several seeds.
        tags: W&B tags.
        log_model: upload checkpoints as W&B artifacts (online only).
    """

    def __init__(
        self,
        name: str | None = None,
        project: str = "mtl",
        save_dir: str = "runs",
        offline: bool | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        log_model: bool = False,
    ) -> None:
        if offline is None:
            offline = os.environ.get("WANDB_MODE") == "offline" or not wandb_credentials_present()
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        super().__init__(
            name=name,
            project=project,
            save_dir=save_dir,
            offline=offline,
            group=group,
            tags=tags,
            log_model=log_model and not offline,
        )


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
