"""``mtl validate|test|predict --run runs/x/version_N``: a trained run used on its own.

A run directory holds all it takes: the resolved ``config.yaml``, the checkpoints (with the
label lists), and ``tokenizer.json``. ``--run PATH`` (the directory, or one of its ``.ckpt``
files) stands for ``-c PATH/config.yaml --ckpt_path <its checkpoint>``, put first after the
subcommand so that the rest of the command line overrides the run's config (another
``--data.predict_file``, another ``-c``). The checkpoint is the one :func:`mtl.load_run`
takes (:func:`mtl.trained_run.run_checkpoint`). Only the splits evaluated are read: the
training files may be gone (see :meth:`mtl.data.MultiTaskDataModule.read_splits`).
"""

from __future__ import annotations

from pathlib import Path

from mtl.config_check import ConfigError
from mtl.trained_run import run_checkpoint, run_dir

#: The subcommands that take ``--run``.
EVALUATING = ("validate", "test", "predict")
RUN_HELP = (
    "a trained run directory (runs/<name>/version_N) or one of its .ckpt files: its config.yaml and its "
    "checkpoint (the newest best-*.ckpt, else last.ckpt), as -c and --ckpt_path; options after it override them"
)


def expand_run_option(args: list[str]) -> list[str]:
    """``args`` with ``--run PATH`` of an evaluating subcommand expanded (see the module's
    docstring); ``--run`` itself stays, so the evaluation's saved config records it.

    Raises:
        ConfigError: ``--run`` without a path, used with another subcommand, or a run
            without ``config.yaml``.
        DataError: the run has no checkpoint.
    """
    found = _run_path(args)
    if found is None:
        return list(args)
    position, path = found
    subcommand = next((a for a in args[:position] if not a.startswith("-")), None)
    if subcommand == "export":
        return list(args)  # its own parameter: the run to export
    if subcommand not in EVALUATING:
        raise ConfigError(f"--run is an option of `mtl {'|'.join((*EVALUATING, 'export'))}`, not of `mtl {subcommand or ''}`")
    checkpoint = run_checkpoint(Path(path))
    config = run_dir(checkpoint) / "config.yaml"
    if not config.is_file():
        raise ConfigError(
            f"--run {path}: {str(config)!r} does not exist, so the run's config is unknown; give it with "
            f"-c CONFIG.yaml --ckpt_path {checkpoint} instead"
        )
    start = args.index(subcommand) + 1
    return [*args[:start], "-c", str(config), "--ckpt_path", str(checkpoint), *args[start:]]


def _run_path(args: list[str]) -> tuple[int, str] | None:
    """Where ``--run`` is in ``args`` and the path it names."""
    for i, arg in enumerate(args):
        if arg == "--run":
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                raise ConfigError("--run needs a path: --run runs/<name>/version_N (or a .ckpt file)")
            return i, args[i + 1]
        if arg.startswith("--run="):
            return i, arg.partition("=")[2]
    return None
