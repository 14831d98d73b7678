"""The multi-task LightningModule: one shared encoder, one head per task, one balancer."""

from __future__ import annotations

import logging
import math
import random
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn

from mtl.balancers.accumulation import GradientAccumulator
from mtl.balancers.base import Weighting
from mtl.balancers.distributed import average_gradients, mean_over_processes
from mtl.balancers.gradient import GradientBalancer
from mtl.balancers.skipped_steps import BalancerState, back_off, nonfinite_tasks
from mtl.balancers.sum import Sum
from mtl.balancers.task_gradients import GradientMode, TaskGradients, representation_leaf
from mtl.encoders.base import Encoder
from mtl.encoders.output import EncoderOutput
from mtl.evaluation import TaskEvaluation
from mtl.heads.base import TaskHead
from mtl.model import MultiTaskModel, TaskBatch
from mtl.prediction import predict_records
from mtl.param_groups import param_groups
from mtl.schedule import Schedule, lr_factor
from mtl.sharing.base import Alignment
from mtl.transfer.gradual_unfreezing import GradualUnfreezing
from mtl.transfer.transfer import Transfer

log = logging.getLogger(__name__)

EncoderFactory = Callable[[int], Encoder]
HeadFactory = Callable[[int, list[str]], TaskHead]


class MultiTaskModule(L.LightningModule):
    """Hard parameter sharing: every task reads the same encoder.

    The encoder and heads are given as factories so that sizes known only from the data
    (vocabulary size, label lists) are filled in here: in a config, name the class and
    its own options; in Python, pass the class or a ``functools.partial``.

    Args:
        encoder: builds the encoder from the vocabulary size.
        heads: task name to a factory building the head from ``(encoder.out_dim, labels)``.
        balancer: combines the task losses (a :class:`Weighting`) or the task gradients
            (a :class:`GradientBalancer`, trained with manual optimisation); ``Sum`` by default.
        gradient_mode: for gradient balancers: per-task gradients of the shared
            ``parameters`` (exact), or of the shared ``representation`` (cheap; needs the
            tasks of a step to share one input batch, ``sampling: all`` over one source).
        alignment: a distance-based alignment penalty added to the loss:
            :class:`mtl.sharing.ParameterDistance` (soft parameter sharing: one encoder per
            task, all starting from the same weights, pulled together) or
            :class:`mtl.sharing.RepresentationAlignment` (the tasks' representations).
        grad_clip: clip the gradient norm to this value (works with every balancer;
            ``trainer.gradient_clip_val`` works only with loss weighting).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay, not applied to biases and normalisation weights.
        betas: AdamW betas.
        warmup: warm-up length; a fraction of all training steps when below 1, else steps.
        schedule: decay after warm-up: ``constant``, ``linear`` or ``cosine``.
        min_lr_ratio: the learning rate at the end of decay, relative to ``lr``.
        max_nonfinite_steps: consecutive steps with a NaN/inf loss (or NaN/inf task
            gradients, other than an fp16 overflow the loss scaler recovers from) that are
            skipped before training stops with an error.
        vocab_size: the tokenizer's vocabulary size (filled in from the data by the CLI).
        task_labels: every task's label names (filled in from the data by the CLI).
        transfer: start the encoder from an earlier run's checkpoint, with a strategy
            for which layers train (see :class:`mtl.transfer.Transfer`).
    """

    def __init__(
        self,
        encoder: EncoderFactory,
        heads: dict[str, HeadFactory],
        balancer: Weighting | GradientBalancer | None = None,
        gradient_mode: GradientMode = "parameters",
        alignment: Alignment | None = None,
        grad_clip: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup: float = 0.0,
        schedule: Schedule = "linear",
        min_lr_ratio: float = 0.0,
        max_nonfinite_steps: int = 10,
        vocab_size: int = 0,
        task_labels: dict[str, list[str]] | None = None,
        transfer: Transfer | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder", "heads", "balancer", "alignment", "transfer"])  # plain values only: weights_only loads
        if vocab_size < 1:
            raise ValueError("vocab_size must be the tokenizer's vocabulary size (the CLI takes it from the data)")
        if task_labels is None:
            raise ValueError("task_labels must map every task to its label names (the CLI takes them from the data)")
        if set(heads) != set(task_labels):
            raise ValueError(
                f"model.heads names tasks {sorted(heads)} but the data declares {sorted(task_labels)}; "
                "give exactly one head per task, keyed by the task's name"
            )
        self.balancer = balancer if balancer is not None else Sum()
        shared = encoder(vocab_size)
        if transfer is not None:  # before soft sharing copies it
            transfer.load_encoder(shared)
        if alignment is not None and alignment.needs_separate_encoders and self.balancer.needs_task_gradients:
            raise ValueError(
                f"{type(self.balancer).__name__} balances gradients of shared parameters, but "
                f"{type(alignment).__name__} gives every task its own encoder; use a loss weighting balancer"
            )
        built = {name: heads[name](shared.out_dim, task_labels[name]) for name in task_labels}
        # The network's parts are registered here, under the names checkpoints have always
        # used (``encoder.``, ``encoders.``, ``heads.``, ``alignment.``); the model object
        # itself is not a registered child, so no parameter is saved twice.
        object.__setattr__(self, "model", MultiTaskModel(shared, built, alignment))
        self.alignment, self.encoder, self.encoders = alignment, self.model.encoder, self.model.encoders
        self.heads = self.model.heads
        self.transfer = transfer
        if transfer is not None:
            transfer.apply(self.task_encoders)
        if isinstance(self.balancer, Weighting):
            self.balancer.setup_tasks(list(task_labels))
        self.automatic_optimization = not self.balancer.needs_task_gradients
        self.task_gradients = TaskGradients(shared) if self.encoders is None else None
        self.evaluation = TaskEvaluation(self.heads)
        self._nonfinite_streak = 0
        self._nonfinite_since: int | None = None  # the step the current streak began
        self._balancer_state = BalancerState(self.balancer)  # put back when its step is skipped
        self._drop_gradients = False
        self.last_cosines: dict[tuple[str, str], float] = {}
        self._warned_single_task = False
        self._accumulate = 1  # micro-batches per update under manual optimisation
        self._accumulator = GradientAccumulator()

    # -- forward -------------------------------------------------------------------------
    def encoder_for(self, task: str) -> Encoder:
        """The encoder ``task`` reads: the shared one, or its own under soft sharing."""
        return self.model.encoder_for(task)

    @property
    def task_encoders(self) -> dict[str, Encoder]:
        return self.model.task_encoders

    def forward(self, batch: TaskBatch, task: str) -> Tensor:
        """The logits of ``task`` for one of its batches."""
        return self.model(batch, task)

    def _alignment_penalty(self, encoded: dict[str, EncoderOutput]) -> Tensor | None:
        penalty = self.model.alignment_penalty(encoded)
        if penalty is not None:
            self.log("train/alignment", penalty.detach(), on_step=True, on_epoch=True, batch_size=1)
        return penalty

    # -- training ------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        tasks = getattr(self.trainer.datamodule, "tasks", None) if self._trainer is not None else None
        for name, task in (tasks or {}).items():
            head = self.heads[name]
            if head.label_type != task.label_type:
                raise ValueError(
                    f"task {name!r} is a {task.type} task but its head {type(head).__name__} expects "
                    f"label_type {head.label_type!r}; choose a head for {task.type}"
                )
        if stage == "fit" and self._trainer is not None:
            if self.transfer is not None:
                self.transfer.setup(self.task_encoders, self.trainer.datamodule)
            self._let_ddp_skip_idle_heads(self.trainer.strategy)

    def configure_callbacks(self) -> list[L.Callback]:
        # Lightning neither clips nor accumulates under manual optimisation (gradient
        # balancers): the module takes trainer.gradient_clip_val and accumulate_grad_batches
        # over (this hook runs before Lightning checks them).
        trainer = self._trainer
        if trainer is not None and not self.automatic_optimization and trainer.gradient_clip_val:
            if trainer.gradient_clip_algorithm not in (None, "norm"):
                raise ValueError(
                    f"gradient_clip_algorithm={trainer.gradient_clip_algorithm!r}: gradient balancers clip by norm; "
                    "remove it or set model.grad_clip"
                )
            self.hparams.grad_clip = self.hparams.grad_clip or float(trainer.gradient_clip_val)
            trainer.gradient_clip_val = None
        if trainer is not None and not self.automatic_optimization and trainer.accumulate_grad_batches > 1:
            if self.hparams.gradient_mode == "representation":
                raise ValueError(
                    f"accumulate_grad_batches={trainer.accumulate_grad_batches} with gradient_mode 'representation': "
                    "the weights are found per encoder pass, so every micro-batch's graph would be held until the "
                    "last (the memory of a larger batch); use gradient_mode 'parameters' or a larger data.batch_size"
                )
            self._accumulate, trainer.accumulate_grad_batches = trainer.accumulate_grad_batches, 1
        return [GradualUnfreezing(self.transfer)] if self.transfer is not None else []

    def _let_ddp_skip_idle_heads(self, strategy: object) -> None:
        """With one task (or some) per step, the other heads take no part in the loss and
        DDP must be told to expect that. Every process trains the same tasks at a step, so
        those heads are idle everywhere and keep ``grad = None``, as in one process.
        Gradient balancers reduce gradients themselves (DDP's sync is off)."""
        sampler = getattr(self.trainer.datamodule, "task_sampler", None)
        every_task_each_step = sampler is not None and sampler.strategy == "all"
        if isinstance(strategy, DDPStrategy) and self.automatic_optimization and not every_task_each_step:
            strategy._ddp_kwargs.setdefault("find_unused_parameters", True)

    def training_step(self, batch: dict[str, TaskBatch], batch_idx: int) -> Tensor | None:
        if not self.automatic_optimization:
            return self._gradient_balanced_step(batch, batch_idx)
        losses, encoded = self.model.task_losses(batch)
        if batch_idx % self.trainer.accumulate_grad_batches == 0:  # an update's first micro-batch
            self._balancer_state.save()
        total = self.balancer(losses)
        penalty = self._alignment_penalty(encoded)
        if penalty is not None:
            total = total + penalty
        # One decision for every process: a rank that skipped its backward alone would
        # leave the others waiting in DDP's gradient all-reduce (NaN spreads through the mean).
        # The same mean over processes gives the global batch's losses for the logs.
        check = mean_over_processes(torch.stack([loss.detach().float() for loss in [*losses.values(), total]]))
        if not torch.isfinite(check).all():
            # Lightning refuses a skipped (None) step under DDP, and every process must
            # run its backward for DDP's all-reduce; on_after_backward then drops the
            # gradients, so the optimiser leaves parameters and moments untouched.
            self._balancer_state.restore()  # the weighting saw this step's losses
            self._skip_nonfinite(losses)
            self._drop_gradients = True
            return total
        self._nonfinite_streak = 0
        self._log_step(batch, dict(zip(losses, check[:-1])), check[-1])
        return total

    def on_after_backward(self) -> None:
        if self._drop_gradients:
            self._drop_gradients = False
            for parameter in self.parameters():
                parameter.grad = None
        elif self.automatic_optimization and self._balancer_state.kept and _loss_scaler(self) is not None:
            # fp16: the scaler will skip this update for its inf/NaN gradients (and lower its
            # scale); the weighting's state goes back to where it was before the update.
            grads = [p.grad for p in self.parameters() if p.grad is not None]
            if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
                self._balancer_state.restore()

    def _gradient_balanced_step(self, batch: dict[str, TaskBatch], batch_idx: int) -> Tensor | None:
        """Manual optimisation: per-task gradients -> Gram matrix -> weights -> one update.
        With ``accumulate_grad_batches`` k > 1 (taken over from the trainer, see
        :meth:`configure_callbacks`) the per-task gradients of k micro-batches are summed
        first and the balancer weighs those of the whole accumulated batch."""
        optimizer = self.optimizers()
        k = self._accumulate
        boundary = k == 1 or (batch_idx + 1) % k == 0 or batch_idx + 1 >= self.trainer.num_training_batches
        if self._accumulator.micro_batches == 0:
            optimizer.zero_grad(set_to_none=True)
        tasks = list(batch)
        if len(tasks) == 1 and len(self.heads) > 1 and not self._warned_single_task:
            self._warned_single_task = True
            log.warning(
                "%s sees one task per step, so it has nothing to balance; set data.sampling: all",
                type(self.balancer).__name__,
            )
        groups = [batch[t].get("group", t) for t in tasks]
        with self.task_gradients.capture_lookups() as lookups:
            encoded = self.model.encode_step(batch)
        lookup_of = dict(zip(dict.fromkeys(groups), lookups))
        representation = self.hparams.gradient_mode == "representation"
        if representation and len(set(groups)) > 1:
            raise ValueError(
                f"gradient_mode 'representation' needs every task of a step to read the same encoder pass, "
                f"but tasks {tasks} come from different inputs {sorted(set(groups))}; use gradient_mode "
                "'parameters', or declare tasks over one source with data.sampling: all"
            )
        leaf = representation_leaf(encoded[tasks[0]]) if representation else None
        inputs = {t: leaf for t in tasks} if representation else encoded
        losses = [self.heads[t].loss(self.heads[t](inputs[t], batch[t]), batch[t]) for t in tasks]
        detached = mean_over_processes(torch.stack(losses).detach())  # the global batch's losses
        finite = bool(torch.isfinite(detached).all())
        if not finite:
            self._skip_nonfinite(dict(zip(tasks, losses)))
            if not (boundary and self._accumulator.micro_batches):
                return None
            # the micro-batch is dropped; the ones before it still make their update
        else:
            penalty = self._alignment_penalty(encoded)
            if penalty is not None:  # its gradient first; the task gradients add to .grad
                self.manual_backward(penalty / k, retain_graph=True)
                average_gradients([p for p in self.parameters() if p.grad is not None])
        heads = [self.heads[t] for t in tasks]
        # fp16 mixed precision: gradients come from scaled losses (no underflow) and stay
        # scaled for the scaler's unscale/inf-check in optimizer.step(); the balancer sees
        # the Gram matrix of the true gradients.
        scaler = _loss_scaler(self)
        scaled = [scaler.scale(loss) / k for loss in losses] if scaler is not None else [loss / k for loss in losses]
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        # Gram matrix, weights and their combination in full precision (outside autocast)
        with torch.autocast(self.device.type, enabled=False):
            if representation:
                gram, update = self.task_gradients.representation_step(scaled, heads, leaf, encoded[tasks[0]])
            elif finite:
                pairs = [(batch[t]["input_ids"], lookup_of[g]) for t, g in zip(tasks, groups)] if lookups else []
                gram, update = self.task_gradients.parameters_step(scaled, heads, pairs)
            if finite and not bool(torch.isfinite(gram).all()):
                return self._skip_nonfinite_gradients(tasks, gram, dict(zip(tasks, losses)), scaler)
            if finite:
                self._nonfinite_streak = 0
            if k > 1:
                if finite:
                    self._accumulator.add(tasks, update, detached)
                if not boundary:
                    return detached.sum()
                tasks, update, detached = self._accumulator.take()
                gram = update.gram()  # of the summed gradients
                if not bool(torch.isfinite(gram).all()):  # the sum overflowed
                    return self._skip_nonfinite_gradients(tasks, gram, dict(zip(tasks, detached)), scaler)
            gram = gram / scale**2  # the true gradients' (of the mean loss over the micro-batches)
            weights = self.balancer(gram.to(detached.device), detached.double())
            update.apply(weights)
        self._log_gradient_geometry(tasks, gram)
        if self.hparams.grad_clip:  # on the still-scaled gradients, so the threshold scales too
            trainable = [p for p in self.parameters() if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(trainable, self.hparams.grad_clip * scale)
        optimizer.step()
        self.lr_schedulers().step()
        self.balancer.last_weights = dict(zip(tasks, weights.tolist()))
        total = (weights.to(detached.dtype) * detached).sum()
        self._log_step(batch, dict(zip(tasks, detached)), total)
        return total

    def _skip_nonfinite_gradients(
        self, tasks: list[str], gram: Tensor, losses: dict[str, Tensor], scaler: torch.amp.GradScaler | None
    ) -> None:
        """Finite losses, but NaN/inf task gradients (an fp16 overflow, or NaN inside the
        network): the step is skipped before the balancer sees them, so its state stays as
        if the step had never happened; no gradient reaches the optimiser (parameters and
        moments unchanged) and the learning-rate schedule does not advance. Under fp16 the
        scaler lowers its scale, as it does when it finds an overflow itself. With
        accumulation, the micro-batches accumulated so far are dropped too (their head
        gradients are already summed into ``.grad``)."""
        self.optimizers().zero_grad(set_to_none=True)
        self._accumulator.clear()
        scale = float(scaler.get_scale()) if scaler is not None else None
        if scaler is not None:
            back_off(scaler)
        self._skip_nonfinite(losses, nonfinite_tasks(tasks, gram), scale)
        return None

    def _log_gradient_geometry(self, tasks: list[str], gram: Tensor) -> None:
        """Per-task gradient norms and pairwise cosine similarities (gradient conflict),
        read off the Gram matrix; kept in ``last_cosines`` for the diagnostics callback."""
        norms = gram.diagonal().clamp_min(0).sqrt()  # (T,)
        cosines = gram / (norms[:, None] * norms[None, :]).clamp_min(1e-12)  # (T, T)
        self.last_cosines = {(a, b): float(cosines[i, j]) for i, a in enumerate(tasks) for j, b in enumerate(tasks) if i < j}
        for task, norm in zip(tasks, norms.tolist()):
            self.log(f"grad/{task}/norm", norm, on_step=True, on_epoch=False)
        for (a, b), cosine in self.last_cosines.items():
            self.log(f"grad/cosine/{a}~{b}", cosine, on_step=True, on_epoch=False)

    def _log_step(self, batch: dict[str, TaskBatch], losses: dict[str, Tensor], total: Tensor) -> None:
        for task, loss in losses.items():
            size = batch[task]["input_ids"].shape[0] if task in batch else 1  # (accumulated: a task of an earlier micro-batch)
            self.log(f"train/{task}/loss", loss, batch_size=size, on_step=True, on_epoch=True)
        for task, weight in self.balancer.last_weights.items():
            self.log(f"train/{task}/weight", weight, on_step=True, on_epoch=False)
        self.log("train/loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=1)

    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        value = gradient_clip_val or self.hparams.grad_clip
        if value:
            self.clip_gradients(optimizer, gradient_clip_val=value, gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    def on_fit_start(self) -> None:
        # Training losses are logged as means over all processes already (see
        # training_step), so Lightning's advice to add sync_dist=True does not apply.
        warnings.filterwarnings("ignore", message=r".*self\.log\('train/.*when logging on epoch level in distributed")

    def on_train_start(self) -> None:
        # Gradient balancers reduce the task gradients themselves (see TaskGradients);
        # DDP's automatic all-reduce of .grad would mix in partial sums.
        wrapper = self.trainer.strategy.model
        if not self.automatic_optimization and hasattr(wrapper, "require_backward_grad_sync"):
            wrapper.require_backward_grad_sync = False

    def on_train_epoch_end(self) -> None:
        if isinstance(self.balancer, Weighting):
            self.balancer.epoch_end()

    def _skip_nonfinite(
        self, losses: dict[str, Tensor], gradient_tasks: list[str] | None = None, loss_scale: float | None = None
    ) -> None:
        """Counts a skipped step: a NaN/inf loss, or (``gradient_tasks``) NaN/inf task
        gradients found at fp16 loss scale ``loss_scale``; stops training after
        ``max_nonfinite_steps`` of them in a row. An overflow at a loss scale above 1 is
        routine for fp16 (the scaler has lowered its scale) and does not count."""
        if gradient_tasks is not None and loss_scale is not None and loss_scale > 1:
            log.info(
                "step %d: fp16 overflow in the gradients of %s; step skipped, loss scale lowered", self.global_step, gradient_tasks
            )
            return None
        if gradient_tasks is not None:
            bad, what = gradient_tasks, "gradients"
        else:
            bad, what = [task for task, loss in losses.items() if not torch.isfinite(loss)] or list(losses), "loss"
        self._nonfinite_streak += 1
        if self._nonfinite_streak == 1:
            self._nonfinite_since = self.global_step
        log.warning("step %d: non-finite %s from tasks %s; step skipped", self.global_step, what, bad)
        if self._nonfinite_streak >= self.hparams.max_nonfinite_steps:
            raise FloatingPointError(
                f"NaN or infinite {what} from tasks {bad} for {self._nonfinite_streak} steps in a row, since step "
                f"{self._nonfinite_since}; training stopped. Lower model.lr, add --trainer.gradient_clip_val, or check "
                f"those tasks' labels; resume with --ckpt_path set to a checkpoint saved before step {self._nonfinite_since}"
            )
        return None

    @property
    def nonfinite_since(self) -> int | None:
        """The step from which every training step so far was skipped for a NaN/inf loss
        or gradients; None when the last step was finite."""
        return self._nonfinite_since if self._nonfinite_streak else None

    # -- evaluation ----------------------------------------------------------------------
    def validation_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, "test")

    def _evaluate(self, batch: TaskBatch, stage: str) -> None:
        task = batch["task"]
        self.evaluation.update(stage, task, self.heads[task], self(batch, task), batch)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def _log_metrics(self, stage: str) -> None:
        """Every task's metrics, and ``<stage>/average``: the mean of the tasks' primary
        metrics, NaN when any of them or any task's loss is NaN or infinite (a diverged
        model has no score; the checkpoint callback never ranks it as best)."""
        primary, finite = [], True
        for task, values in self.evaluation.compute(stage).items():
            for name, value in values.items():
                self.log(f"{stage}/{task}/{name}", value, add_dataloader_idx=False)
            primary.append(float(values[self.heads[task].primary_metric]))
            finite = finite and bool(torch.isfinite(torch.as_tensor(values["loss"])))
        if primary:
            average = sum(primary) / len(primary)
            self.log(f"{stage}/average", average if finite else math.nan, prog_bar=True)

    # -- prediction ----------------------------------------------------------------------
    def predict_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        """Every task's decoded prediction for each input (see :func:`mtl.prediction.predict_records`)."""
        return predict_records(self.model, batch)

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the random state (dropout masks) so a resumed run continues exactly."""
        checkpoint["random_state"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("random_state")
        if state is None:
            return
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        random.setstate(_as_tuples(state["python"]))

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        scales = self.transfer.lr_scales(self.task_encoders) if self.transfer is not None else None
        optimizer = torch.optim.AdamW(
            param_groups(self.named_parameters(), hp.lr, hp.weight_decay, scales), lr=hp.lr, betas=tuple(hp.betas)
        )
        total = self.trainer.estimated_stepping_batches
        if self._accumulate > 1 and self.trainer.max_epochs not in (None, -1):  # the module's own accumulation
            total = min(total, self.trainer.max_epochs * math.ceil(self.trainer.num_training_batches / self._accumulate))
        total = max(1, int(total))
        warmup = int(hp.warmup * total) if hp.warmup < 1 else int(hp.warmup)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, total, warmup, hp.schedule, hp.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _loss_scaler(module: L.LightningModule) -> torch.amp.GradScaler | None:
    """The fp16 loss scaler of the module's trainer, if any."""
    return getattr(module.trainer.precision_plugin, "scaler", None)


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` needs tuples where a checkpoint may hold lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
