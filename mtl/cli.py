"""The ``mtl`` command: ``mtl fit|validate|test|predict -c experiments/<x>.yaml``, and
``mtl advise`` (which transfer strategy suits a target, see :mod:`mtl.transfer`) and ``mtl report``
(finished runs side by side, see :mod:`mtl.report`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO

from mtl.callbacks import BalancerPlots, PredictionWriter, ResultsTable
from mtl.checkpoint_io import AtomicCheckpointIO
from mtl.config_check import class_path_errors
from mtl.data.datamodule import MultiTaskDataModule
from mtl.divergence import NO_CHECKPOINT, FiniteModelCheckpoint, divergence, good_checkpoint
from mtl.module import MultiTaskModule
from mtl.task_selection import select_tasks
from mtl.transfer.cli_config import use_source_tokenizer

AUTO_NAME = "auto"

DEFAULT_LOGGERS: list[dict[str, Any]] = [
    {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "runs", "name": AUTO_NAME}},
    {"class_path": "mtl.tracking.WandbTracker", "init_args": {"save_dir": "runs", "name": AUTO_NAME}},
]


class MultiTaskCLI(LightningCLI):
    """LightningCLI with the data's vocabulary size and label lists linked into the model,
    and run names taken from the config file's name."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(FiniteModelCheckpoint, "checkpoint")  # a NaN val/average is never best
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/average",
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-{epoch}-{step}",
                "trainer.logger": DEFAULT_LOGGERS,
                "trainer.default_root_dir": "runs",
                "data.seed": None,  # the run's seed_everything, see before_instantiate_classes
            }
        )
        parser.add_argument(
            "--tasks", type=Optional[list[str]], default=None,
            help="train only these of the config's tasks (their heads too), e.g. a single-task baseline; "
            "the run's name gets them appended: runs/<name>/<task>",
        )  # fmt: skip
        parser.add_argument(
            "--run_name", type=Optional[str], default=None,
            help="the run's folder under runs/ (default: the last config file's name)",
        )  # fmt: skip
        parser.add_argument(
            "--test_after_fit", type=bool, default=False,
            help="after fit, evaluate the best checkpoint (the last weights without checkpointing) on the test "
            "split; results-test.md/.json land in the run directory beside results-fit",
        )  # fmt: skip
        parser.add_lightning_class_args(ResultsTable, "results")
        parser.add_lightning_class_args(PredictionWriter, "predictions")
        parser.add_lightning_class_args(BalancerPlots, "plots")
        parser.link_arguments("data.vocab_size", "model.vocab_size", apply_on="instantiate")
        parser.link_arguments("data.task_labels", "model.task_labels", apply_on="instantiate")

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> Any:
        # --trainer.enable_checkpointing=false turns off the built-in checkpoint callback
        # too (Lightning refuses a ModelCheckpoint alongside it).
        if config.get("enable_checkpointing") is False:
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        # Atomic checkpoint files unless the config names its own CheckpointIO.
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super()._instantiate_trainer(config, callbacks)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        name = config.get("run_name") or _run_name(config)
        if config.get("tasks"):
            select_tasks(config, list(config.tasks))
            if not config.get("run_name"):
                name = f"{name}/{'+'.join(config.tasks)}"
        use_source_tokenizer(config)
        if config.get("data.seed") is None and not isinstance(config.get("seed_everything"), bool):
            config["data.seed"] = config.get("seed_everything")  # another seed: another batch order too
        for logger in config.trainer.logger or []:
            init_args = logger.get("init_args") if hasattr(logger, "get") else None
            if init_args is not None and init_args.get("name") == AUTO_NAME:
                init_args["name"] = name

    def fit(self, model: MultiTaskModule, **kwargs: Any) -> None:
        """``trainer.fit``; a run that stops on NaN/inf losses, or ends with NaN/inf
        losses or validation metrics, exits non-zero with one line saying what and what to try."""
        try:
            self.trainer.fit(model, **kwargs)
        except FloatingPointError as error:
            best = good_checkpoint(self.trainer)
            _fail(self.trainer, f"{error} ({f'the best checkpoint, with finite validation: {best}' if best else NO_CHECKPOINT})")
        problem = divergence(self.trainer, model.nonfinite_since)
        if problem:
            _fail(self.trainer, problem)

    def after_fit(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if not config.get("test_after_fit") or self.trainer.interrupted:
            return
        callback = self.trainer.checkpoint_callback
        best = callback.best_model_path if callback is not None else ""
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)


def _fail(trainer: Any, message: str) -> None:
    """Exit with status 1; the message once, from the first process."""
    sys.exit(f"error: {message}" if trainer.is_global_zero else 1)


def _run_name(config: Any) -> str:
    """The last config file's name; a fragment in a sub-folder of ``experiments/`` keeps
    that folder: ``experiments/glue_balancers/sum.yaml`` -> ``glue_balancers/sum``."""
    files = config.get("config") or []
    if not files:
        return "mtl"
    path = Path(str(files[-1]))
    if path.parent.parent.name == "experiments":
        return f"{path.parent.name}/{path.stem}"
    return path.stem


def main(args: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    command = sys.argv[1:] if args is None else args
    if command[:1] == ["advise"]:  # not a Lightning subcommand: see mtl/transfer/advise_command.py
        from mtl.transfer.advise_command import main as advise

        return advise(command[1:])
    if command[:1] == ["report"]:  # not a Lightning subcommand: see mtl/report/command.py
        from mtl.report.command import main as report

        return report(command[1:])
    errors = class_path_errors(sys.argv[1:] if args is None else args)
    if errors:
        sys.exit("error: " + "\n       ".join(errors))
    MultiTaskCLI(
        MultiTaskModule,
        MultiTaskDataModule,
        save_config_kwargs={"overwrite": True},
        args=args,
    )


if __name__ == "__main__":
    main()
