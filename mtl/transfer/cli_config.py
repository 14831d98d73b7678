"""The command line's part in a transfer: the new run reads text with the source run's
tokenizer unless another one is configured, and the model learns which tokenizer that is."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from jsonargparse import Namespace

from mtl.data.tokenizer import TokenizerSpec
from mtl.transfer.errors import TransferError
from mtl.transfer.source_run import load_source_run

log = logging.getLogger(__name__)


def use_source_tokenizer(config: Any) -> None:
    """With ``model.transfer`` set: leave ``data.tokenizer.path`` unset and it becomes the
    source run's ``tokenizer.json``; set it, and ``model.transfer.tokenizer`` names it so
    that the encoder is loaded only when the vocabularies agree (or are mapped)."""
    transfer = config.get("model.transfer") if hasattr(config, "get") else None
    if transfer is None or not transfer.get("checkpoint"):
        return
    source = load_source_run(transfer.checkpoint)  # refuses a file that is not our checkpoint, early
    tokenizer = config.get("data.tokenizer")
    if tokenizer is None:
        tokenizer = Namespace(**asdict(TokenizerSpec()))
        config["data.tokenizer"] = tokenizer
    if tokenizer.get("path"):
        transfer["tokenizer"] = tokenizer.path
        return
    if source.tokenizer_path is None:
        raise TransferError(
            f"the source run {str(source.run_dir)!r} has no tokenizer.json; copy the tokenizer it was trained with "
            "there, or set data.tokenizer.path to it"
        )
    tokenizer["path"] = str(source.tokenizer_path)
    log.info("transfer: reading text with the source run's tokenizer %s", source.tokenizer_path)
