"""Experiment tracking with Weights & Biases that never waits on the network."""

from __future__ import annotations

import logging
import netrc
import os
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)

#: how long the W&B server may take to answer before a run with credentials goes offline
REACH_TIMEOUT_S = 3.0


def wandb_base_url() -> str:
    """The W&B server the ``wandb`` client talks to: ``WANDB_BASE_URL`` or the public one."""
    return os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"


def wandb_credentials_present() -> bool:
    """True when an API key is configured (environment or ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        host = urlparse(wandb_base_url()).hostname or "api.wandb.ai"
        return netrc.netrc(Path.home() / ".netrc").authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_unreachable(url: str | None = None, timeout: float = REACH_TIMEOUT_S) -> str | None:
    """Why the W&B server at ``url`` cannot be reached, or None when it answers.

    One HTTP request (through the proxy the environment names, as ``wandb`` uses), given
    ``timeout`` seconds in all, name lookup included: compute nodes without a network
    often fail only after long DNS or connection timeouts. Any HTTP answer, an error
    status or a TLS failure included, means the server is reachable.
    """
    url = url or wandb_base_url()
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # an answer
        except urllib.error.URLError as error:
            outcome.append(None if isinstance(error.reason, ssl.SSLError) else str(error.reason))
        except (OSError, ValueError) as error:
            outcome.append(str(error) or type(error).__name__)

    thread = threading.Thread(target=ask, name="wandb-reachable", daemon=True)  # a hung name lookup is left behind
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


class WandbTracker(WandbLogger):
    """Lightning's ``WandbLogger``, offline unless credentials are configured and the
    W&B server answers within a few seconds (else one warning line says so).

    Offline runs are written under ``save_dir/wandb`` and can be uploaded later with
    ``wandb sync``. ``WANDB_MODE=disabled`` turns W&B off entirely (no files).

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
        mode = os.environ.get("WANDB_MODE")
        disabled = mode == "disabled"
        if disabled:  # not offline: Lightning's offline mode would set WANDB_MODE=dryrun and write a run
            offline = False
        elif offline is None:
            offline = mode in ("offline", "dryrun") or not wandb_credentials_present() or _offline_for_network(save_dir)
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        super().__init__(
            name=name,
            project=project,
            save_dir=save_dir,
            offline=offline,
            group=group,
            tags=tags,
            log_model=log_model and not offline and not disabled,
            **({"mode": "disabled"} if disabled else {}),
        )


def _offline_for_network(save_dir: str) -> bool:
    """True, with one warning line, when credentials are configured but the server is unreachable."""
    reason = wandb_unreachable()
    if reason is None:
        return False
    if rank_zero_only.rank == 0:
        log.warning(
            "W&B: credentials found but %s is unreachable (%s); logging offline to %s/wandb instead. "
            "Upload later with: wandb sync %s/wandb/offline-run-*",
            wandb_base_url(), reason, save_dir, save_dir,
        )  # fmt: skip
    return True
