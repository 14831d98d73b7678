"""The per-task results table printed and saved at the end of fit, validate and test."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from mtl.run_directory import run_directory


def results_from_metrics(metrics: dict[str, Any], stage: str) -> dict[str, dict[str, float]]:
    """``{"val/sst2/accuracy": 0.8, ...}`` to ``{"sst2": {"accuracy": 0.8}, ...}``."""
    table: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == stage:
            table.setdefault(parts[1], {})[parts[2]] = float(value)
    return dict(sorted(table.items()))


def markdown_table(table: dict[str, dict[str, float]]) -> str:
    """One row per task, one column per metric (loss last), values to 4 decimals; a NaN
    or infinite value shows as ``nan`` or ``inf``, a metric the task lacks as nothing."""
    metrics = sorted({m for row in table.values() for m in row}, key=lambda m: (m == "loss", m))
    lines = ["| task | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for task, row in table.items():
        cells = [f"{row[m]:.4f}" if m in row and row[m] is not None else "" for m in metrics]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in nested dicts) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultsTable(L.Callback):
    """At the end of fit (last validation), validate and test: print a per-task table
    and write ``results-<stage>.md`` and ``.json`` into the run directory. At the start
    of fit, copy the tokenizer into the run directory so the run is self-contained.

    Only rank 0 writes; nothing here communicates with the other processes (the run
    directory is :func:`mtl.run_directory.run_directory`, not the collective ``trainer.log_dir``)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()
        source = getattr(trainer.datamodule, "tokenizer_path", None)
        if source is not None:
            target = run_directory(trainer) / "tokenizer.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(source).resolve() != target.resolve():
                shutil.copyfile(source, target)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer, "val", "fit")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._write(trainer, "val", "validate")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer, "test", "test")

    @rank_zero_only
    def _write(self, trainer: L.Trainer, stage: str, name: str) -> None:
        table = results_from_metrics(trainer.callback_metrics, stage)
        if not table:
            return
        directory = run_directory(trainer)
        directory.mkdir(parents=True, exist_ok=True)
        average = trainer.callback_metrics.get(f"{stage}/average")
        record = {
            "stage": stage,
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "seconds": round(time.perf_counter() - self._started, 1),
            "average": None if average is None else float(average),
            "tasks": table,
        }
        text = markdown_table(table)
        (directory / f"results-{name}.md").write_text(text + "\n")
        # strict JSON: a NaN or infinite value is written as null
        (directory / f"results-{name}.json").write_text(json.dumps(_finite_or_none(record), indent=2, allow_nan=False) + "\n")
        when = f" after {trainer.global_step} steps" if name == "fit" else ""
        print(f"\n{stage} results{when} ({directory}):\n{text}\n", flush=True)
