"""Experiment tracking with Weights & Biases that never waits on the network."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger


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
