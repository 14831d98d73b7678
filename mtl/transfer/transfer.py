"""The ``model.transfer`` setting: which run to start from and how to train on from it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from mtl.encoders.base import Encoder
from mtl.transfer.advisor import Thresholds
from mtl.transfer.encoder_weights import Mismatch, load_encoder_weights
from mtl.transfer.errors import TransferError
from mtl.transfer.layers import distinct, freeze_lower, group_of_parameters
from mtl.transfer.source_run import SourceRun, load_source_run

log = logging.getLogger(__name__)

Strategy = Literal["scratch", "finetune", "freeze", "freeze_lower", "gradual_unfreeze", "auto"]
STRATEGIES = ("scratch", "finetune", "freeze", "freeze_lower", "gradual_unfreeze", "auto")
#: why ``auto`` on a pretrained encoder does not measure the representation distance
AUTO_UNMEASURED = (
    "strategy auto on a pretrained encoder has no source text to compare with (mtl advise --source <model> "
    "--reference FILE measures it)"
)


@dataclass
class Transfer:
    """Start the encoder from an earlier run's checkpoint, or from the pretrained weights
    it loads itself (:class:`~mtl.encoders.PretrainedEncoder`, no ``checkpoint``), and
    choose which of its layers train; the heads are new, sized for this run's tasks.

    Args:
        checkpoint: the source run's checkpoint (``runs/<name>/version_N/checkpoints/last.ckpt``);
            its run directory must hold ``tokenizer.json``. None: the encoder is
            pretrained already (its own weights are the source; every strategy but
            ``scratch``; ``auto`` then judges the data by the model's tokenizer alone:
            unknown tokens and sub-words per word).
        strategy: ``scratch`` (fresh encoder, the source's tokenizer), ``finetune`` (every
            layer trains), ``freeze`` (encoder frozen, heads train), ``freeze_lower`` (the
            lowest ``freeze_layers`` layer groups frozen), ``gradual_unfreeze`` (heads only
            at first, then one more group from the top every ``unfreeze_every`` epochs),
            or ``auto`` (what ``mtl advise`` recommends for this run's data).
        freeze_layers: for ``freeze_lower``: how many layer groups, counted from the
            embeddings (group 0) upwards, stay frozen.
        unfreeze_every: for ``gradual_unfreeze``: epochs between unfreezing steps.
        lr_decay: discriminative learning rates: the heads train at ``model.lr``, the top
            encoder group at ``lr * lr_decay``, the next one down at ``lr * lr_decay**2``
            and so on (1.0: one learning rate).
        tokenizer: the new run's ``tokenizer.json``; None means the source run's own (the
            CLI fills in ``data.tokenizer.path``).
        on_tokenizer_mismatch: ``error`` refuses a different tokenizer; ``map`` copies the
            embedding rows of tokens both vocabularies hold and initialises the others.
        advice: thresholds for ``strategy: auto``.
    """

    checkpoint: str | None = None
    strategy: Strategy = "finetune"
    freeze_layers: int = 1
    unfreeze_every: int = 1
    lr_decay: float = 1.0
    tokenizer: str | None = None
    on_tokenizer_mismatch: Mismatch = "error"
    advice: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise TransferError(f"model.transfer.strategy={self.strategy!r} is not one of {list(STRATEGIES)}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise TransferError(f"model.transfer.lr_decay={self.lr_decay} must lie in (0, 1]")
        if self.freeze_layers < 1 or self.unfreeze_every < 1:
            raise TransferError(
                f"model.transfer: freeze_layers={self.freeze_layers} and unfreeze_every={self.unfreeze_every} must be >= 1"
            )
        #: the strategy in force: ``strategy``, or under ``auto`` the advisor's choice (set in ``setup``)
        self.chosen: str | None = None if self.strategy == "auto" else self.strategy
        if self.checkpoint is None and self.strategy == "scratch":
            raise TransferError(
                "model.transfer.strategy='scratch' restarts from a source run's tokenizer: set "
                "model.transfer.checkpoint (without one, the pretrained encoder is the source: use finetune, freeze, "
                "freeze_lower, gradual_unfreeze or auto)"
            )
        self.source: SourceRun | None = None if self.checkpoint is None else load_source_run(self.checkpoint)

    # -- building the model ---------------------------------------------------------------
    def load_encoder(self, encoder: Encoder) -> None:
        """Copy the source encoder's weights (every strategy but ``scratch``); without a
        checkpoint the encoder must have loaded pretrained weights itself."""
        if self.source is None:
            if not encoder.pretrained:
                raise TransferError(
                    f"model.transfer has no checkpoint and the encoder {type(encoder).__name__} starts from random "
                    "weights: there is nothing to transfer; set model.transfer.checkpoint to a trained run's "
                    "checkpoint, or use a pretrained encoder (mtl.encoders.PretrainedEncoder)"
                )
            return
        if self.strategy != "scratch":
            load_encoder_weights(encoder, self.source, self.tokenizer, self.on_tokenizer_mismatch)

    def apply(self, encoders: dict[str, nn.Module]) -> None:
        """Set ``requires_grad`` on every encoder for the chosen strategy (epoch 0)."""
        if self.chosen is None:
            return  # auto: decided in setup, once the data is known
        for encoder in distinct(encoders):
            freeze_lower(encoder, self.frozen_groups(encoder, epoch=0))

    def frozen_groups(self, encoder: Encoder, epoch: int) -> int:
        """How many of ``encoder``'s lowest layer groups are frozen at ``epoch``."""
        n = len(encoder.layer_groups())
        if self.chosen == "freeze":
            return n
        if self.chosen == "freeze_lower":
            if self.freeze_layers >= n:
                raise TransferError(
                    f"model.transfer.freeze_layers={self.freeze_layers} would freeze all {n} layer groups of "
                    f"{type(encoder).__name__} (embeddings + {n - 1} layers); use strategy freeze, or at most {n - 1}"
                )
            return self.freeze_layers
        if self.chosen == "gradual_unfreeze":
            return max(0, n - epoch // self.unfreeze_every)
        return 0

    # -- training -------------------------------------------------------------------------
    def setup(self, encoders: dict[str, nn.Module], datamodule: Any) -> None:
        """Under ``auto``: measure this run's data against the source, choose, apply. Without
        a checkpoint (a pretrained encoder) the data is measured against the model's
        tokenizer only: there is no source text for the representation distance."""
        if self.chosen is not None:
            return
        from mtl.transfer.measure import advise_by_tokens, advise_for_datamodule

        if self.source is None:
            advice = advise_by_tokens(datamodule, self.advice, unmeasured=AUTO_UNMEASURED)
        else:
            advice = advise_for_datamodule(self.source, next(iter(encoders.values())), datamodule, self.advice)
        log.warning("model.transfer.strategy auto:\n%s", advice.table())
        self.chosen = advice.strategy
        self.apply(encoders)

    def lr_scales(self, encoders: dict[str, nn.Module]) -> dict[int, float | None]:
        """``id(parameter) -> learning-rate scale`` of every encoder parameter; None for
        parameters that never train (left out of the optimiser). Under
        ``gradual_unfreeze`` frozen groups are in the optimiser from the start (without
        a gradient AdamW leaves them unchanged) so that they train once unfrozen."""
        scales: dict[int, float | None] = {}
        for encoder in distinct(encoders):
            index, n = group_of_parameters(encoder)
            for p in encoder.parameters():
                trains = p.requires_grad or self.chosen == "gradual_unfreeze"
                scales[id(p)] = self.lr_decay ** (n - index[id(p)]) if trains else None
        return scales
