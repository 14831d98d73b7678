"""The training step of loss weighting (automatic optimisation): one weighted loss,
Lightning's backward and optimizer step, and steps with a NaN/inf loss skipped."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting
from mtl.model import MultiTaskModel
from mtl.training.distributed import add_over_processes, global_losses, mean_over_processes
from mtl.training.loss_scaler import loss_scaler
from mtl.training.skipped_steps import BalancerState, NonfiniteSteps
from mtl.training.step_logging import log_step, logged_alignment_penalty


class LossWeightedStep:
    """Computes the weighted loss of one step for Lightning to back-propagate.

    Args:
        model: the network.
        balancer: the loss weighting.
        skipped: the count of skipped steps (shared with the module).
    """

    def __init__(self, model: MultiTaskModel, balancer: Weighting, skipped: NonfiniteSteps) -> None:
        self.model = model
        self.balancer = balancer
        self.skipped = skipped
        self.balancer_state = BalancerState(balancer)  # put back when its step is skipped
        self._drop_gradients = False

    def __call__(self, module: L.LightningModule, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses, encoded = self.model.task_losses(batch)
        if batch_idx % module.trainer.accumulate_grad_batches == 0:  # an update's first micro-batch
            self.balancer_state.save()
        # A task none of whose rows this step carries a label (rows with missing labels, see
        # mtl.contracts.labelled_rows) sits the step out, as a task not drawn does: its loss
        # is a zero, not a value a weighting should see (a log, a running mean, a sigma).
        unlabelled = unlabelled_tasks(self.model, batch)
        weighted = {task: loss for task, loss in losses.items() if task not in unlabelled}
        total = sum((losses[task] * 0.0 for task in unlabelled), torch.zeros((), device=module.device))  # zero gradient
        if weighted:
            needs_global = self.balancer.needs_global_losses
            total = total + (self.balancer(weighted, global_losses(weighted)) if needs_global else self.balancer(weighted))
        penalty = logged_alignment_penalty(module, self.model, encoded)
        if penalty is not None:
            total = total + penalty
        # One decision for every process: a rank that skipped its backward alone would
        # leave the others waiting in DDP's gradient all-reduce (NaN spreads through the mean).
        # The same mean over processes gives the global batch's losses for the logs.
        check = mean_over_processes(torch.stack([loss.detach().float() for loss in [*losses.values(), total]]))
        if not torch.isfinite(check).all():
            # Lightning refuses a skipped (None) step under DDP, and every process must
            # run its backward for DDP's all-reduce; after_backward then drops the
            # gradients, so the optimiser leaves parameters and moments untouched.
            self.balancer_state.restore()  # the weighting saw this step's losses
            self.skipped.skip(module.global_step, losses)
            self._drop_gradients = True
            return total
        self.skipped.finite()
        log_step(module, batch, dict(zip(losses, check[:-1])), self.balancer.last_weights, check[-1])
        return total

    def epoch_end(self) -> None:
        """Ends the weighting's epoch with its running sums added up over processes."""
        self.balancer.epoch_end(add_over_processes(self.balancer.epoch_sums()))

    def after_backward(self, module: L.LightningModule) -> None:
        """Drops the gradients of a skipped step; under fp16, puts the weighting's state
        back when the scaler will skip the update for its inf/NaN gradients."""
        if self._drop_gradients:
            self._drop_gradients = False
            for parameter in module.parameters():
                parameter.grad = None
        elif self.balancer_state.kept and loss_scaler(module.trainer) is not None:
            grads = [p.grad for p in module.parameters() if p.grad is not None]
            if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
                self.balancer_state.restore()


def unlabelled_tasks(model: MultiTaskModel, batch: dict[str, Any]) -> set[str]:
    """The tasks of the step with no labelled row on any process (one small all-reduce
    under DDP, so that every process leaves out the same tasks)."""
    counts = torch.stack([model.heads[task].labelled(b).sum() for task, b in batch.items()]).float()  # (T,)
    counts = mean_over_processes(counts)
    return {task for task, count in zip(batch, counts.tolist()) if count == 0}
