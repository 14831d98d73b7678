"""Writing ``mtl predict`` output: one JSON line per input, in input order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

from mtl.run_directory import run_directory, share_run_version


class PredictionWriter(BasePredictionWriter):
    """Writes every task's decoded prediction for each input as one JSON line.

    Args:
        output: the ``.jsonl`` file; ``<run dir>/predictions.jsonl`` by default.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output = output

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        share_run_version(trainer)  # every process writes its file into rank 0's run directory

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: list[Any], batch_indices: Any
    ) -> None:
        records = sorted((r for batch in predictions for r in batch), key=lambda r: r["index"])
        shown = getattr(trainer.datamodule, "predict_input", None)  # the input's text(s) and words
        path = Path(self.output) if self.output else run_directory(trainer) / "predictions.jsonl"
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for record in records:
                if shown is not None:
                    record = {"index": record["index"]} | shown(record["index"]) | record
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {len(records)} predictions to {path}", flush=True)
