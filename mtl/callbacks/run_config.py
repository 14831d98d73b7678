"""The run's resolved config, in its directory and in its W&B run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from mtl.run_directory import run_directory


class RunConfig(SaveConfigCallback):
    """Lightning's ``SaveConfigCallback`` (``config.yaml`` in the run directory), which also
    gives every W&B run of the trainer the whole resolved config (encoder, heads, balancer,
    data, trainer, seed: runs can be filtered and compared by any of them) and, when
    fitting, an artifact of the files the run is read with (``config.yaml`` and the
    tokenizer), uploaded with the run (``wandb sync`` for an offline one)."""

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        runs = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if not runs:
            return
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False, skip_validation=True))
        config["built"] = _built(pl_module)  # what the defaults resolved to, to filter runs by
        for logger in runs:
            experiment = logger.experiment
            if not hasattr(experiment, "config"):  # WANDB_MODE=disabled gives a stand-in
                continue
            experiment.config.update(config, allow_val_change=True)  # plain YAML values: dicts, lists, scalars
            if stage == "fit":
                self._log_files(experiment, trainer)

    def _log_files(self, experiment: Any, trainer: L.Trainer) -> None:
        import wandb

        # run_directory, not trainer.log_dir: that is a collective, and only rank zero is here
        files = [run_directory(trainer) / self.config_filename, getattr(trainer.datamodule, "tokenizer_path", None)]
        files = [Path(f) for f in files if f is not None and Path(f).is_file()]
        if not files:
            return
        artifact = wandb.Artifact(f"run-{experiment.id}", type="run-files", description="config.yaml and the tokenizer")
        for path in files:
            artifact.add_file(str(path), name="tokenizer.json" if path.suffix == ".json" else path.name)
        experiment.log_artifact(artifact)


def _built(pl_module: L.LightningModule) -> dict[str, Any]:
    """The classes the run trains: its encoder, balancer and each task's head."""
    heads = getattr(pl_module, "heads", {})
    return {
        "encoder": type(getattr(pl_module, "encoder", None)).__name__,
        "balancer": type(getattr(pl_module, "balancer", None)).__name__,
        "heads": {str(task): type(head).__name__ for task, head in heads.items()},
    }
