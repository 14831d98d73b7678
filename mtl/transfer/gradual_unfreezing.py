"""Top-down unfreezing of the encoder's layer groups over epochs."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.utilities import rank_zero_info

from mtl.transfer.errors import TransferError
from mtl.transfer.layers import distinct, freeze_lower
from mtl.transfer.transfer import Transfer


class GradualUnfreezing(L.Callback):
    """At the start of every epoch, sets which layer groups train under
    ``strategy: gradual_unfreeze`` (a no-op under the other strategies): epoch 0 trains
    the heads only, and every ``unfreeze_every`` epochs one more group, from the top
    down, joins. Derived from the epoch alone, so a resumed run gets the same groups."""

    def __init__(self, transfer: Transfer) -> None:
        self.transfer = transfer

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.transfer.chosen == "gradual_unfreeze" and trainer.world_size > 1:
            raise TransferError(
                "strategy gradual_unfreeze does not work with several processes yet: DDP fixes the parameters "
                "it synchronises when it wraps the model, so groups unfrozen later would train apart on each "
                "process; train on one device, or use freeze_lower / finetune with lr_decay"
            )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.transfer.chosen != "gradual_unfreeze":
            return
        for encoder in distinct(pl_module.task_encoders):
            frozen = self.transfer.frozen_groups(encoder, trainer.current_epoch)
            freeze_lower(encoder, frozen)
            n = len(encoder.layer_groups())
            rank_zero_info(f"epoch {trainer.current_epoch}: encoder layer groups {frozen}..{n - 1} of 0..{n - 1} train")
