"""The command line's part in reading text with a pretrained model's own tokenizer: the model
is named once, as ``model.encoder``'s ``model``, and the data follows it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jsonargparse import Namespace

from mtl.config_check import ConfigError
from mtl.data.tokenizer import TokenizerSpec

PRETRAINED_ENCODER = "mtl.encoders.PretrainedEncoder"


def use_model_tokenizer(config: Any) -> None:
    """With ``model.encoder`` a :class:`~mtl.encoders.PretrainedEncoder`: set
    ``data.tokenizer.pretrained`` to its model (another model there is refused)."""
    encoder = config.get("model.encoder")
    class_path = encoder.get("class_path") if hasattr(encoder, "get") else None
    if class_path not in (PRETRAINED_ENCODER, "mtl.encoders.pretrained.PretrainedEncoder"):
        return
    model = encoder.init_args.get("model")
    tokenizer = config.get("data.tokenizer")
    if tokenizer is None:
        tokenizer = Namespace(**asdict(TokenizerSpec()))
        config["data.tokenizer"] = tokenizer
    named = tokenizer.get("pretrained")
    if named not in (None, model):
        raise ConfigError(
            f"data.tokenizer.pretrained is {named!r} but model.encoder reads {model!r}: a model reads text only with "
            "its own tokenizer; remove data.tokenizer.pretrained (it follows model.encoder.init_args.model)"
        )
    tokenizer["pretrained"] = model
