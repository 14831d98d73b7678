"""The ``mtl`` command, one parser for every subcommand (``mtl --help`` lists them):
``mtl fit|validate|test|predict -c experiments/<x>.yaml`` (Lightning's); ``mtl report``
(finished runs side by side, see :mod:`mtl.report`), ``mtl advise`` (which transfer
strategy suits a target, see :mod:`mtl.transfer`) and ``mtl export`` (a run for serving,
see :mod:`mtl.export`), each built from a typed, documented function; and ``mtl affinity``
(a short fit measuring the inter-task affinity, see :mod:`mtl.affinity_command`)."""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any, ClassVar, Optional

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO

from mtl.affinity_command import DESCRIPTION as AFFINITY_DESCRIPTION
from mtl.affinity_command import RUN_SUFFIX as AFFINITY_RUN
from mtl.affinity_command import STEPS_HELP as AFFINITY_STEPS_HELP
from mtl.affinity_command import USAGE as AFFINITY_USAGE
from mtl.affinity_command import affinity_text
from mtl.callbacks import BalancerPlots, PredictionWriter, ResultsTable, RunCheckpoint, TaskAffinity
from mtl.callbacks.checkpoint import RUN_KEY
from mtl.callbacks.run_config import RunConfig
from mtl.checkpoint_check import check_weights, read_checkpoint
from mtl.checkpoint_io import AtomicCheckpointIO
from mtl.config_check import ConfigError, config_errors, errors_shown_plainly, head_task_errors
from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.model_tokenizer import use_model_tokenizer
from mtl.divergence import NO_CHECKPOINT, divergence, good_checkpoint
from mtl.export import USAGE as EXPORT_USAGE
from mtl.export import export_run
from mtl.messages import show_messages
from mtl.module import MultiTaskModule
from mtl.report.command import USAGE as REPORT_USAGE
from mtl.report.command import add_report_arguments, report
from mtl.run_directory import SameRunVersion, run_directory
from mtl.run_option import EVALUATING, RUN_HELP, expand_run_option
from mtl.task_heads import move_task_heads
from mtl.task_selection import select_tasks
from mtl.trained_run import follow_checkpoint, run_dir
from mtl.transfer.advise_command import USAGE as ADVISE_USAGE
from mtl.transfer.advise_command import add_advise_arguments, advise, run_advise
from mtl.transfer.cli_config import use_source_tokenizer
from mtl.validation_monitor import MONITOR, monitor_without_validation

AUTO_NAME = "auto"

RUN_CSV = "mtl.tracking.RunCSVLogger"
DEFAULT_LOGGERS: list[dict[str, Any]] = [
    {"class_path": RUN_CSV, "init_args": {"save_dir": "runs", "name": AUTO_NAME}},
    {
        "class_path": "mtl.tracking.WandbTracker",
        "init_args": {"save_dir": "runs", "name": AUTO_NAME, "group": AUTO_NAME, "job_type": AUTO_NAME},
    },
]
# Lightning's CSV logger deletes an existing metrics.csv; a resumed run uses ours instead.
LIGHTNING_CSV = ("lightning.pytorch.loggers.CSVLogger", "lightning.pytorch.loggers.csv_logs.CSVLogger")
WANDB_LOGGERS = (
    "mtl.tracking.WandbTracker",
    "lightning.pytorch.loggers.WandbLogger",
    "lightning.pytorch.loggers.wandb.WandbLogger",
)
VERSION_DIR = re.compile(r"^version_(\d+)$")
#: The subcommands that train: ``fit``, and ``affinity`` (a short fit measuring task affinity).
TRAINING = ("fit", "affinity")


class MultiTaskCLI(LightningCLI):
    """LightningCLI with the data's vocabulary size and label lists linked into the model,
    run names taken from the config file's name, and subcommands of its own besides the
    Trainer's: ``report``, ``advise`` and ``export`` (see :attr:`COMMANDS`), run in place of a
    trainer, and ``affinity``, a short ``fit`` with :class:`~mtl.callbacks.TaskAffinity` on."""

    #: Subcommands that are not Trainer methods (no model, data or trainer is built for them).
    COMMANDS = ("report", "advise", "export")
    #: One line per Trainer subcommand for ``mtl --help`` (report and advise: their docstrings').
    DESCRIPTIONS: ClassVar[dict[str, str]] = {
        "fit": "Train a model on a config's tasks: runs/<name>/version_N with checkpoints, metrics and results.",
        "validate": "Evaluate a checkpoint on the validation split.",
        "test": "Evaluate a checkpoint on the test split.",
        "predict": "Write a checkpoint's predictions for the test split or a file of texts.",
    }

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]) -> None:
        # A parse error shows one usage line, not every option (`mtl fit --help` lists them).
        for name in self.subcommands() if add_subcommands else ():
            usage = f"mtl {name} -c CONFIG.yaml [--section.key VALUE ...]"
            subparser_kwargs.setdefault(name, {}).setdefault("usage", usage)
        main_kwargs.setdefault("prog", "mtl")
        main_kwargs.setdefault("description", "Multi-task training, evaluation, reports and transfer advice.")
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """The Trainer's subcommands (as LightningCLI adds them), then ``report`` and ``advise``:
        ``advise`` reads the target config with the same arguments as ``fit``."""
        self._subcommand_parsers: dict[str, LightningArgumentParser] = {}
        subcommands = parser.add_subcommands()
        for name in self.subcommands():
            description = self.DESCRIPTIONS[name]
            subparser = self._prepare_subcommand_parser(
                self.trainer_class, name, **{"description": description, **kwargs.get(name, {})}
            )
            if name in ("validate", "test"):  # the results table says it per task; Lightning's repeats each
                subparser.set_defaults(verbose=False)  # metric in one identical column per task's dataloader
            if name in EVALUATING:  # expanded before parsing (see mtl.run_option); listed in --help
                subparser.add_argument("--run", type=Optional[str], default=None, help=RUN_HELP)  # noqa: UP045
            self._subcommand_parsers[name] = subparser
            subcommands.add_subcommand(name, subparser, help=description)
        report_parser = self.parser_class(description=_first_line(report), usage=REPORT_USAGE)
        add_report_arguments(report_parser)
        advise_parser = self.init_parser(description=_first_line(advise), usage=ADVISE_USAGE)
        self._subcommand_method_arguments["advise"] = add_advise_arguments(advise_parser)
        self._add_arguments(advise_parser)
        for action in advise_parser._actions:  # the target's model section may be left out: advise reads its data
            if action.dest.startswith("model."):
                action.required = False
        export_parser = self.parser_class(description=_first_line(export_run), usage=EXPORT_USAGE)
        export_parser.add_function_arguments(export_run)
        affinity_parser = self._prepare_subcommand_parser(
            self.trainer_class, "fit", description=AFFINITY_DESCRIPTION, usage=AFFINITY_USAGE
        )  # fit's arguments, with the callback (--affinity.every_n_steps, --affinity.lr) and the fit's length
        self._subcommand_method_arguments["affinity"] = self._subcommand_method_arguments["fit"]
        affinity_parser.add_lightning_class_args(TaskAffinity, "affinity")
        affinity_parser.add_argument("--steps", type=int, default=200, help=AFFINITY_STEPS_HELP)
        parsers = (("report", report_parser), ("advise", advise_parser), ("export", export_parser), ("affinity", affinity_parser))
        for name, subparser in parsers:
            self._subcommand_parsers[name] = subparser
            subcommands.add_subcommand(name, subparser, help=subparser.description)

    def _set_seed(self) -> None:
        if self.subcommand not in self.COMMANDS:
            super()._set_seed()

    def instantiate_classes(self) -> None:
        if self.subcommand not in self.COMMANDS:  # report and advise build what they need themselves
            super().instantiate_classes()

    def _run_subcommand(self, subcommand: str) -> None:
        config = self.config[subcommand]
        if subcommand == "report":
            report(**config.clone().as_dict())
        elif subcommand == "advise":
            run_advise(config, self._subcommand_method_arguments["advise"])
        elif subcommand == "export":
            folder = export_run(**config.clone().as_dict())
            print(f"exported {config.run} to {folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")
        elif subcommand == "affinity":
            self._check_checkpoint_weights()
            self.fit(**self._prepare_subcommand_kwargs(subcommand))
            measured = next(c for c in self.trainer.callbacks if isinstance(c, TaskAffinity))
            if self.trainer.is_global_zero:
                print(affinity_text(measured.summary(), run_directory(self.trainer)))
        else:
            super()._run_subcommand(subcommand)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": MONITOR,
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-{epoch}-{step}",
                "trainer.logger": DEFAULT_LOGGERS,
                "trainer.default_root_dir": "runs",
                "data.seed": None,  # the run's seed_everything, see before_instantiate_classes
                "model.heads": {},  # or each with its task (data.tasks[i].head), see before_instantiate_classes
            }
        )
        if "tasks" not in {action.dest for action in parser._actions}:  # advise has its own (--tasks a b)
            parser.add_argument(
                "--tasks", type=Optional[list[str]], default=None,  # noqa: UP045 (a parser type, read at run time)
                help="train only these of the config's tasks (their heads too), e.g. a single-task baseline; "
                "the run's name gets them appended: runs/<name>/<task>",
            )  # fmt: skip
        parser.add_argument(
            "--run_name", type=Optional[str], default=None,  # noqa: UP045 (a parser type, read at run time)
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
        parser.link_arguments("data.special_ids", "model.special_ids", apply_on="instantiate")
        parser.link_arguments("data.vocabulary", "model.vocabulary", self._vocabulary_of_new_model, apply_on="instantiate")

    def _vocabulary_of_new_model(self, vocabulary: list[str]) -> list[str] | None:
        """The data's vocabulary for the model of ``mtl fit`` without ``--ckpt_path`` (its
        encoder may read word vectors for it); None otherwise: a checkpoint's weights
        replace them, so loading one needs no vectors file."""
        return vocabulary if self.subcommand in TRAINING and self._checkpoint is None else None

    def _add_configure_optimizers_method_to_model(self, subcommand: str | None) -> None:
        # The module builds its optimiser and schedule itself (no-decay groups, warm-up,
        # stepped under manual optimisation too): LightningCLI's own would replace them.
        for key in ("optimizer", "lr_scheduler"):
            if self._get(self.config, key):
                raise ConfigError(f"--{key} is not used by mtl: set --model.{key} (class_path and init_args) instead")

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
        # First of all callbacks, so that every process names rank 0's runs/<name>/version_N
        # before any other looks for the run directory (torchrun, srun: see SameRunVersion).
        configured = config.get("callbacks") or []
        config["callbacks"] = [SameRunVersion(), *(configured if isinstance(configured, list) else [configured])]
        return super()._instantiate_trainer(config, callbacks)

    def _parse_ckpt_path(self) -> None:
        # Lightning reads --ckpt_path here first (for the hyper-parameters it holds): refuse
        # an unreadable file in one line before that, and resolve `fit --ckpt_path last`.
        self._checkpoint: dict[str, Any] | None = None
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else None
        path = config.get("ckpt_path") if config is not None else None
        if path == "last" and subcommand == "fit":
            found = _newest_last_checkpoint(_csv_logger(config), _full_run_name(config))
            path = config.ckpt_path = str(found) if found is not None else None  # none yet: a fresh start
        if path not in (None, "last", "best", "hpc") and "://" not in str(path):
            self._checkpoint = read_checkpoint(path)
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        if self.subcommand in self.COMMANDS:
            return
        config = self.config[self.subcommand] if self.subcommand else self.config
        name = _full_run_name(config)
        if self.subcommand == "affinity":
            name = config.get("run_name") or f"{name}/{AFFINITY_RUN}"  # not a version of the trained runs
            config["trainer.max_steps"], config["trainer.max_epochs"] = config.steps, -1
            config["trainer.enable_checkpointing"] = False  # a measurement: no weights kept
        move_task_heads(config)  # before the tasks are selected and the heads checked
        if config.get("tasks"):
            select_tasks(config, list(config.tasks))
        use_source_tokenizer(config)
        use_model_tokenizer(config)
        errors = head_task_errors(config)  # before a run directory or a W&B run exists
        if errors:
            raise ConfigError("\n       ".join(errors))
        if self.subcommand in ("test", "predict") and not config.get("ckpt_path"):
            raise ConfigError(
                f"mtl {self.subcommand} needs trained weights and none were given: add --ckpt_path "
                f"runs/<run>/version_N/checkpoints/last.ckpt (or a best-*.ckpt); without them it would "
                f"{'predict' if self.subcommand == 'predict' else 'score'} with random weights"
            )
        if self.subcommand in ("validate", "test", "predict"):
            follow_checkpoint(config, f"mtl {self.subcommand}", self._checkpoint)  # its labels and tokenizer
            self._into_tested_run(config, Path(config.ckpt_path))
        if config.get("data.seed") is None and not isinstance(config.get("seed_everything"), bool):
            config["data.seed"] = config.get("seed_everything")  # another seed: another batch order too
        for logger in _loggers(config):
            init_args = logger.get("init_args") if hasattr(logger, "get") else None
            if init_args is not None and init_args.get("name") == AUTO_NAME:
                init_args["name"] = name
            if init_args is not None and init_args.get("group") == AUTO_NAME:
                init_args["group"] = experiment_name(name)
            if init_args is not None and init_args.get("job_type") == AUTO_NAME:
                init_args["job_type"] = self.subcommand
        if self.subcommand in TRAINING:
            monitor_without_validation(config)
        if self.subcommand == "fit" and self._checkpoint is not None:
            self._continue_run(config, Path(config.ckpt_path), self._checkpoint)

    def _into_tested_run(self, config: Any, path: Path) -> None:
        """``validate``/``test``/``predict`` of ``<run>/checkpoints/x.ckpt`` (a run
        directory: its ``config.yaml`` beside) log into that run, not a new ``version_N``:
        ``results-<stage>``, ``predictions.jsonl``, ``metrics-<stage>.csv``,
        ``hparams-<stage>.yaml`` and ``config-<stage>.yaml``, leaving the training files as
        they are; without loggers the results go there too unless
        ``trainer.default_root_dir`` is set."""
        tested = run_dir(path.resolve())
        if path.resolve().parent.name != "checkpoints" or not (tested / "config.yaml").is_file():
            return
        self.save_config_kwargs["config_filename"] = f"config-{self.subcommand}.yaml"
        logger = _csv_logger(config)
        if logger is not None and logger.init_args.get("version") is None:
            logger.class_path = RUN_CSV
            for key, value in {"save_dir": str(tested.parent), "name": "", "version": tested.name}.items():
                logger.init_args[key] = value
            logger.init_args["stage"] = self.subcommand
        elif logger is None and config.get("trainer.default_root_dir") == "runs":
            config["trainer.default_root_dir"] = str(tested)

    def _continue_run(self, config: Any, path: Path, checkpoint: dict[str, Any]) -> None:
        """A checkpoint in ``<root>/version_N/checkpoints/`` of this run's CSV logger root
        resumes that run: CSV version N with its metrics.csv continued (``resume``), the same
        checkpoints folder, and the W&B run of the checkpoint's id. A checkpoint from
        elsewhere starts a new run directory from its state."""
        logger = _csv_logger(config)
        resumed = run_dir(path.resolve())
        version = VERSION_DIR.match(resumed.name)
        if logger is None or path.resolve().parent.name != "checkpoints" or version is None:
            return
        init_args = logger.init_args
        if init_args.get("version") is not None or resumed.parent != _logger_root(logger).resolve():
            return
        if logger.class_path in LIGHTNING_CSV:
            logger.class_path = RUN_CSV
        init_args["version"] = int(version.group(1))
        init_args["resume"] = True
        wandb_id = (checkpoint.get(RUN_KEY) or {}).get("wandb_id")
        for other in _loggers(config):
            if wandb_id and hasattr(other, "get") and other.get("class_path") in WANDB_LOGGERS and not other.init_args.get("id"):
                other.init_args["id"] = wandb_id

    def _check_checkpoint_weights(self) -> None:
        """Refuse a checkpoint of another model configuration before the run starts (no
        run directory, no W&B run), naming the parameters and config keys that differ."""
        checkpoint, self._checkpoint = self._checkpoint, None
        if checkpoint is None:
            return
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_weights(checkpoint, self.model, config.ckpt_path, config=config.as_dict(), strict=self.model.strict_loading)

    def before_fit(self) -> None:
        self._check_checkpoint_weights()

    def before_validate(self) -> None:
        self._check_checkpoint_weights()

    def before_test(self) -> None:
        self._check_checkpoint_weights()

    def before_predict(self) -> None:
        self._check_checkpoint_weights()

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


def _loggers(config: Any) -> list[Any]:
    loggers = config.trainer.logger
    if loggers is None or isinstance(loggers, bool):
        return []
    return list(loggers) if isinstance(loggers, list) else [loggers]


def _csv_logger(config: Any) -> Any | None:
    """The first logger, when it is a CSV logger: it names the run directory (and the
    checkpoints folder under it)."""
    loggers = _loggers(config)
    first = loggers[0] if loggers else None
    if first is None or not hasattr(first, "get") or first.get("class_path") not in (RUN_CSV, *LIGHTNING_CSV):
        return None
    return first


def _logger_root(logger: Any) -> Path:
    return Path(str(logger.init_args.get("save_dir") or ".")) / str(logger.init_args.get("name") or "")


def _newest_last_checkpoint(logger: Any | None, name: str) -> Path | None:
    """``--ckpt_path last``: the newest ``<root>/version_*/checkpoints/last.ckpt`` of the run."""
    if logger is None:
        return None
    root = _logger_root(logger)
    if logger.init_args.get("name") == AUTO_NAME:
        root = root.parent / name
    found = [p for p in root.glob("version_*/checkpoints/last.ckpt") if VERSION_DIR.match(p.parent.parent.name)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _full_run_name(config: Any) -> str:
    """The run's folder under the loggers' save_dir: ``--run_name``, or the config file's
    name with the ``--tasks`` appended."""
    name = config.get("run_name") or _run_name(config)
    if config.get("tasks") and not config.get("run_name"):
        name = f"{name}/{'+'.join(config.tasks)}"
    return name


def _first_line(function: Any) -> str:
    """The first line of ``function``'s docstring: its line in ``mtl --help``."""
    return inspect.getdoc(function).splitlines()[0]


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


def experiment_name(run_name: str) -> str:
    """The experiment a run belongs to: its name without a final ``seedN`` part
    (``glue_pretrained/sum/seed1`` and ``glue/seed2`` -> ``glue_pretrained/sum``, ``glue``)."""
    return re.sub(r"[/_-]?seed\d+$", "", run_name) or run_name


@errors_shown_plainly  # the project's own errors: `error: <message>`, no traceback
def main(args: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    show_messages()
    command = expand_run_option(sys.argv[1:] if args is None else args)
    if args is None:  # LightningCLI reads the command line itself (and warns when also given args)
        sys.argv[1:] = command
    errors = config_errors(command)
    if errors:
        raise ConfigError("\n       ".join(errors))
    MultiTaskCLI(
        MultiTaskModule,
        MultiTaskDataModule,
        save_config_callback=RunConfig,
        save_config_kwargs={"overwrite": True},
        args=args if args is None else command,
    )


if __name__ == "__main__":
    main()
