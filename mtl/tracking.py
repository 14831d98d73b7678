"""Experiment tracking that never waits on the network (Weights & Biases offline unless an
account is configured and its server answers), and a CSV log that a resumed run continues."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only

from mtl.reachability import unreachable

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
    """Why the W&B server at ``url`` cannot be reached, or None when it answers (see
    :func:`mtl.reachability.unreachable`)."""
    return unreachable(url or wandb_base_url(), timeout)


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
        group: W&B group, e.g. an experiment with several seeds (the ``mtl`` command sets
            it to the run's name without its ``seedN`` part: ``glue/sum/seed1`` -> ``glue/sum``).
        tags: W&B tags.
        log_model: upload checkpoints as W&B artifacts; ``None`` (default): when online.
        job_type: W&B job type (the ``mtl`` command sets it to its subcommand: fit, test ...).
        id: the W&B run id; an existing run's id continues that run (``mtl fit --ckpt_path``
            sets it from the checkpoint when the run resumes in its own directory).
    """

    def __init__(
        self,
        name: str | None = None,
        project: str = "mtl",
        save_dir: str = "runs",
        offline: bool | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        log_model: bool | None = None,
        id: str | None = None,
        job_type: str | None = None,
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
            log_model=log_model is not False and not offline and not disabled,
            id=id,
            job_type=job_type,
            **({"mode": "disabled"} if disabled else {}),
        )


class RunCSVLogger(CSVLogger):
    """Lightning's ``CSVLogger`` (``<save_dir>/<name>/version_N/metrics.csv``), with rows
    written to disk as they are logged (``flush_logs_every_n_steps=1``), so that a killed
    run loses none of the rows logged before its last checkpoint, and with ``resume``,
    which continues an existing ``metrics.csv`` instead of deleting it.

    Args:
        stage: write ``metrics-<stage>.csv`` and ``hparams-<stage>.yaml`` instead (``mtl
            test``/``validate``/``predict`` of a run's checkpoint log into that run's
            directory and leave its training files alone).
        resume: keep this version's ``metrics.csv``: the rows from the step the new run
            logs first onwards (those the killed run logged after the checkpoint it resumes
            from, and a half-written last line) are dropped and the new rows appended,
            so the file reads as one uninterrupted run. ``mtl fit --ckpt_path
            runs/x/version_N/checkpoints/last.ckpt`` sets it, with ``version`` N.
        others: as for Lightning's ``CSVLogger``.
    """

    def __init__(
        self,
        save_dir: str = "runs",
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 1,
        resume: bool = False,
        stage: str | None = None,
    ) -> None:
        super().__init__(save_dir, name, version, prefix, flush_logs_every_n_steps)
        self._resume = resume
        self._stage = stage

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _RunWriter(self.log_dir, self._resume, self._stage)
        return self._experiment


class _RunWriter(ExperimentWriter):
    """Lightning's writer of ``metrics.csv``, which a resumed run continues, and whose
    header rewrites (a new column) replace the file atomically."""

    def __init__(self, log_dir: str, resume: bool, stage: str | None = None) -> None:
        self._resume = resume
        self._trim = False
        if stage is not None:  # an evaluation of a trained run, beside its own files
            self.NAME_METRICS_FILE, self.NAME_HPARAMS_FILE = f"metrics-{stage}.csv", f"hparams-{stage}.yaml"
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not self._resume:
            return super()._check_log_dir_exists()  # a new run: Lightning removes an old metrics.csv
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = [key for key in next(csv.reader(file), []) if key]
            self._trim = True

    def save(self) -> None:
        if self._trim and self.metrics:
            self._trim = False
            self._keep_rows_before(min(int(row["step"]) for row in self.metrics))
        super().save()

    def _keep_rows_before(self, step: int) -> None:
        """Keep the complete rows the earlier run logged before ``step``, the first step
        this run logs (it logs every later one again)."""
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            text = file.read()
        text = text[: text.rfind("\n") + 1]  # a last line the kill cut short has no line end
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        kept = [row for row in rows if _complete(row) and _step(row) is not None and _step(row) < step]
        if self.metrics_keys:
            self._write(self.metrics_keys, kept)
        else:  # not even a header survived
            self._fs.rm_file(self.metrics_file_path)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            self._write(fieldnames, list(csv.DictReader(file)))

    def _write(self, fieldnames: list[str], rows: list[dict[str, Any]]) -> None:
        if "://" in self.metrics_file_path:  # remote: no atomic rename
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=fieldnames)
                writer.writeheader()
                writer.writerows(rows)
            return
        temporary = f"{self.metrics_file_path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=fieldnames)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(temporary, self.metrics_file_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _complete(row: dict[str, Any]) -> bool:
    """A row with as many cells as the header (not a line cut short by a kill)."""
    return None not in row and None not in row.values()


def _step(row: dict[str, Any]) -> int | None:
    try:
        return int(float(row["step"]))
    except (KeyError, TypeError, ValueError):
        return None


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
