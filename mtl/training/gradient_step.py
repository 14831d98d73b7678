"""The training step of gradient balancing (manual optimisation): per-task gradients ->
Gram matrix -> weights -> one update, with fp16 loss scaling, accumulation over
micro-batches, non-finite steps skipped, the alignment penalty, clipping, and the
optimizer and scheduler steps."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.model import MultiTaskModel
from mtl.training.accumulation import GradientAccumulator
from mtl.training.distributed import average_gradients, mean_over_processes
from mtl.training.loss_scaler import loss_scaler
from mtl.training.skipped_steps import NonfiniteSteps, back_off, nonfinite_tasks
from mtl.training.step_logging import log_gradient_geometry, log_step, logged_alignment_penalty
from mtl.training.task_gradients import GradientMode, TaskGradients, representation_leaf

log = logging.getLogger(__name__)


class GradientBalancedStep:
    """One manual-optimisation step of a gradient balancer.

    Args:
        model: the network (hard sharing: one encoder).
        balancer: finds the task weights from the Gram matrix of the task gradients.
        gradient_mode: per-task gradients of the shared ``parameters`` or ``representation``.
        skipped: the count of skipped steps (shared with the module).
        grad_clip: clip the gradient norm to this value (None: no clipping).
    """

    def __init__(
        self,
        model: MultiTaskModel,
        balancer: GradientBalancer,
        gradient_mode: GradientMode,
        skipped: NonfiniteSteps,
        grad_clip: float | None = None,
    ) -> None:
        if model.encoders is not None:
            raise ValueError(
                f"{type(balancer).__name__} balances gradients of shared parameters, but "
                f"{type(model.alignment).__name__} gives every task its own encoder; use a loss weighting balancer"
            )
        if balancer.needs_gradients and gradient_mode == "representation":
            raise ValueError(
                f"{type(balancer).__name__} needs the task gradients of the shared parameters, "
                "not only their Gram matrix: use gradient_mode 'parameters'"
            )
        self.model = model
        self.balancer = balancer
        self.gradient_mode = gradient_mode
        self.skipped = skipped
        self.grad_clip = grad_clip
        self.task_gradients = TaskGradients(model.encoder, model.special_ids.pad)
        #: micro-batches per update (``trainer.accumulate_grad_batches``, taken over by the module)
        self.accumulate = 1
        self.accumulator = GradientAccumulator()
        #: the latest update's gradient cosine similarities by task pair
        self.last_cosines: dict[tuple[str, str], float] = {}
        self._warned_single_task = False

    def __call__(self, module: L.LightningModule, batch: dict[str, Any], batch_idx: int) -> Tensor | None:
        """With ``accumulate`` k > 1 the per-task gradients of k micro-batches are summed
        first and the balancer weighs those of the whole accumulated batch."""
        optimizer = module.optimizers()
        k = self.accumulate
        boundary = k == 1 or (batch_idx + 1) % k == 0 or batch_idx + 1 >= module.trainer.num_training_batches
        if self.accumulator.micro_batches == 0:
            optimizer.zero_grad(set_to_none=True)
        tasks = list(batch)
        if len(tasks) == 1 and len(self.model.heads) > 1 and not self._warned_single_task:
            self._warned_single_task = True
            log.warning(
                "%s sees one task per step, so it has nothing to balance; set data.sampling: all",
                type(self.balancer).__name__,
            )
        groups = [batch[t].get("group", t) for t in tasks]
        with self.task_gradients.capture_lookups() as lookups:
            encoded = self.model.encode_step(batch)
        lookup_of = dict(zip(dict.fromkeys(groups), lookups))
        representation = self.gradient_mode == "representation"
        if representation and len(set(groups)) > 1:
            raise ValueError(
                f"gradient_mode 'representation' needs every task of a step to read the same encoder pass, "
                f"but tasks {tasks} come from different inputs {sorted(set(groups))}; use gradient_mode "
                "'parameters', or declare tasks over one source with data.sampling: all"
            )
        leaf = representation_leaf(encoded[tasks[0]]) if representation else None
        inputs = {t: leaf for t in tasks} if representation else encoded
        heads = [self.model.heads[t] for t in tasks]
        losses = [head.loss(head(inputs[t], batch[t]), batch[t]) for t, head in zip(tasks, heads)]
        detached = mean_over_processes(torch.stack(losses).detach())  # the global batch's losses
        finite = bool(torch.isfinite(detached).all())
        if not finite:
            self.skipped.skip(module.global_step, dict(zip(tasks, losses)))
            if not (boundary and self.accumulator.micro_batches):
                return None
            # the micro-batch is dropped; the ones before it still make their update
        else:
            penalty = logged_alignment_penalty(module, self.model, encoded)
            if penalty is not None:  # its gradient first; the task gradients add to .grad
                module.manual_backward(penalty / k, retain_graph=True)
                average_gradients([p for p in module.parameters() if p.grad is not None])
        # fp16 mixed precision: gradients come from scaled losses (no underflow) and stay
        # scaled for the scaler's unscale/inf-check in optimizer.step(); the balancer sees
        # the Gram matrix of the true gradients.
        scaler = loss_scaler(module.trainer)
        scaled = [scaler.scale(loss) / k for loss in losses] if scaler is not None else [loss / k for loss in losses]
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        # Gram matrix, weights and their combination in full precision (outside autocast)
        with torch.autocast(module.device.type, enabled=False):
            if representation:
                gram, update = self.task_gradients.representation_step(scaled, heads, leaf, encoded[tasks[0]])
            elif finite:
                pairs = [(batch[t]["input_ids"], lookup_of[g]) for t, g in zip(tasks, groups)] if lookups else []
                gram, update = self.task_gradients.parameters_step(scaled, heads, pairs)
            if finite and not bool(torch.isfinite(gram).all()):
                return self._skip_nonfinite_gradients(module, tasks, gram, dict(zip(tasks, losses)), scaler)
            if finite:
                self.skipped.finite()
            if k > 1:
                if finite:
                    self.accumulator.add(tasks, update, detached)
                if not boundary:
                    return detached.sum()
                tasks, update, detached = self.accumulator.take()
                gram = update.gram()  # of the summed gradients
                if not bool(torch.isfinite(gram).all()):  # the sum overflowed
                    return self._skip_nonfinite_gradients(module, tasks, gram, dict(zip(tasks, detached)), scaler)
            gram = gram / scale**2  # the true gradients' (of the mean loss over the micro-batches)
            inputs = (gram.to(detached.device), detached.double())
            if self.balancer.needs_gradients:  # the (T, P) dense gradients themselves (parameters mode)
                matrix = update.matrix
                inputs += (matrix / scale if matrix is not None and scale != 1.0 else matrix,)
            weights = self.balancer(*inputs)
            update.apply(weights)
        self.last_cosines = log_gradient_geometry(module, tasks, gram)
        if self.grad_clip:  # on the still-scaled gradients, so the threshold scales too
            trainable = [p for p in module.parameters() if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(trainable, self.grad_clip * scale)
        optimizer.step()
        module.lr_schedulers().step()
        self.balancer.last_weights = dict(zip(tasks, weights.tolist()))
        total = (weights.to(detached.dtype) * detached).sum()
        log_step(module, batch, dict(zip(tasks, detached)), self.balancer.last_weights, total)
        return total

    def _skip_nonfinite_gradients(
        self,
        module: L.LightningModule,
        tasks: list[str],
        gram: Tensor,
        losses: dict[str, Tensor],
        scaler: torch.amp.GradScaler | None,
    ) -> None:
        """Finite losses, but NaN/inf task gradients (an fp16 overflow, or NaN inside the
        network): the step is skipped before the balancer sees them, so its state stays as
        if the step had never happened; no gradient reaches the optimiser (parameters and
        moments unchanged) and the learning-rate schedule does not advance. Under fp16 the
        scaler lowers its scale, as it does when it finds an overflow itself. With
        accumulation, the micro-batches accumulated so far are dropped too (their head
        gradients are already summed into ``.grad``)."""
        module.optimizers().zero_grad(set_to_none=True)
        self.accumulator.clear()
        scale = float(scaler.get_scale()) if scaler is not None else None
        if scaler is not None:
            back_off(scaler)
        self.skipped.skip(module.global_step, losses, nonfinite_tasks(tasks, gram), scale)
        return None

    def take_over_clipping_and_accumulation(self, trainer: L.Trainer) -> None:
        """Lightning neither clips nor accumulates under manual optimisation: this step
        takes ``trainer.gradient_clip_val`` and ``accumulate_grad_batches`` over (called
        before Lightning checks them)."""
        if trainer.gradient_clip_val:
            if trainer.gradient_clip_algorithm not in (None, "norm"):
                raise ValueError(
                    f"gradient_clip_algorithm={trainer.gradient_clip_algorithm!r}: gradient balancers clip by norm; "
                    "remove it or set model.grad_clip"
                )
            self.grad_clip = self.grad_clip or float(trainer.gradient_clip_val)
            trainer.gradient_clip_val = None
        if trainer.accumulate_grad_batches > 1:
            if self.gradient_mode == "representation":
                raise ValueError(
                    f"accumulate_grad_batches={trainer.accumulate_grad_batches} with gradient_mode 'representation': "
                    "the weights are found per encoder pass, so every micro-batch's graph would be held until the "
                    "last (the memory of a larger batch); use gradient_mode 'parameters' or a larger data.batch_size"
                )
            self.accumulate, trainer.accumulate_grad_batches = trainer.accumulate_grad_batches, 1
