"""The multi-task LightningModule: the glue between a :class:`MultiTaskModel`, its
balancer, the training step (:mod:`mtl.training`), evaluation and checkpoints."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from torch import Tensor

from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.sum import Sum
from mtl.balancers.weighting import Weighting
from mtl.callbacks.data_summary import DataSummary
from mtl.callbacks.word_vector_coverage import WordVectorCoverage
from mtl.contracts import SpecialIds, TaskBatch
from mtl.encoders.base import Encoder
from mtl.evaluation import TaskEvaluation
from mtl.model import EncoderFactory, HeadFactory, MultiTaskModel
from mtl.model_config import MODEL_CONFIG, plain_values, rebuild_from_checkpoint
from mtl.optimization import OptimizerFactory, SchedulerFactory, default_optimizer, optimizer_steps, warmup_schedule
from mtl.param_groups import param_groups
from mtl.prediction import predict_records
from mtl.schedule import Schedule
from mtl.sharing.base import Alignment
from mtl.training.ddp import ignore_epoch_sync_advice, let_ddp_skip_idle_heads, stop_gradient_sync
from mtl.training.gradient_step import GradientBalancedStep
from mtl.training.loss_step import LossWeightedStep
from mtl.training.random_state import random_state, restore_random_state
from mtl.training.skipped_steps import NonfiniteSteps
from mtl.training.task_gradients import GradientMode
from mtl.transfer.gradual_unfreezing import GradualUnfreezing
from mtl.transfer.transfer import Transfer


class MultiTaskModule(L.LightningModule):
    """Every task reads one shared encoder (or its own copy, under soft sharing) and has
    its own head; a balancer combines the task losses or their gradients.

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
        grad_clip: clip the gradient norm to this value; works with every balancer, as does
            ``trainer.gradient_clip_val`` (taken over for gradient balancers).
        lr: peak learning rate (of every parameter group, whatever the optimiser).
        weight_decay: weight decay, not applied to biases and normalisation weights.
        betas: AdamW betas (the default optimiser's).
        warmup: warm-up length; a fraction of all training steps when below 1, else steps.
        schedule: decay after warm-up: ``constant``, ``linear`` or ``cosine``.
        min_lr_ratio: the learning rate at the end of decay, relative to ``lr``.
        max_nonfinite_steps: consecutive steps with a NaN/inf loss (or NaN/inf task
            gradients, other than an fp16 overflow the loss scaler recovers from) that are
            skipped before training stops with an error.
        vocab_size: the tokenizer's vocabulary size (filled in from the data by the CLI).
        task_labels: every task's label names (filled in from the data by the CLI).
        special_ids: the tokenizer's special ids (filled in from the data by the CLI).
        vocabulary: the tokenizer's tokens by id, for encoders that start from word vectors
            (filled in from the data by ``mtl fit`` without a checkpoint; not saved: a
            checkpoint holds the embeddings, so loading one reads no vectors).
        transfer: start the encoder from an earlier run's checkpoint, with a strategy
            for which layers train (see :class:`mtl.transfer.Transfer`).
        optimizer: the optimiser class and its options (``class_path: torch.optim.SGD``);
            AdamW with ``lr``, ``weight_decay`` and ``betas`` by default. It receives the
            parameter groups, which set every group's ``lr`` and ``weight_decay``.
        lr_scheduler: a schedule stepped every optimiser step, in place of the warm-up
            and decay set by ``warmup``, ``schedule`` and ``min_lr_ratio``.
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
        optimizer: OptimizerFactory | None = None,
        lr_scheduler: SchedulerFactory | None = None,
        special_ids: SpecialIds | None = None,
        vocabulary: list[str] | None = None,
    ) -> None:
        super().__init__()
        components = [
            *("encoder", "heads", "balancer", "alignment", "transfer", "optimizer", "lr_scheduler", "special_ids"),
            "vocabulary",
        ]
        self.save_hyperparameters(ignore=components)  # plain values only: weights_only loads
        #: every component's class_path/init_args when the mtl command built it (see mtl.model_config)
        self.model_config: dict[str, Any] | None = None
        if "_instantiator" in self.hparams:  # LightningCLI's marker of hyper-parameters from a config
            self.save_hyperparameters(ignore=["transfer", "vocabulary"])
            self.model_config = plain_values(self.hparams)
            self.save_hyperparameters(ignore=components)
        self.balancer = balancer if balancer is not None else Sum()
        model = MultiTaskModel.build(
            encoder, heads, vocab_size, task_labels, alignment, transfer, special_ids, vocabulary=vocabulary
        )
        # Its parts are registered under the names checkpoints have always used (``encoder.``,
        # ``encoders.``, ``heads.``, ``alignment.``); the model itself is not a registered child.
        object.__setattr__(self, "model", model)
        self.alignment, self.encoder, self.encoders, self.heads = alignment, model.encoder, model.encoders, model.heads
        self.transfer, self.optimizer, self.lr_scheduler = transfer, optimizer, lr_scheduler
        if isinstance(self.balancer, Weighting):
            self.balancer.setup_tasks(list(task_labels))
        self.automatic_optimization = not self.balancer.needs_task_gradients
        self.skipped = NonfiniteSteps(max_nonfinite_steps)
        self.step: LossWeightedStep | GradientBalancedStep = (
            LossWeightedStep(self.model, self.balancer, self.skipped)
            if self.automatic_optimization
            else GradientBalancedStep(self.model, self.balancer, gradient_mode, self.skipped, grad_clip)
        )
        self.evaluation = TaskEvaluation(self.heads)

    @property
    def task_encoders(self) -> dict[str, Encoder]:
        """Every task's encoder (see :meth:`MultiTaskModel.encoder_for`)."""
        return self.model.task_encoders

    def forward(self, batch: TaskBatch, task: str) -> Tensor:
        """The logits of ``task`` for one of its batches."""
        return self.model(batch, task)

    # -- training ------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        ignore_epoch_sync_advice()
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        tasks = getattr(datamodule, "tasks", None) or {}
        self.model.check_label_types(tasks)
        self.model.check_lengths({name: task for name, task in tasks.items() if name in self.heads})
        if stage == "fit" and self._trainer is not None:
            if self.transfer is not None:
                self.transfer.setup(self.task_encoders, datamodule)
            sampler = getattr(datamodule, "task_sampler", None)
            every_task = sampler is not None and sampler.strategy == "all"
            let_ddp_skip_idle_heads(self.trainer.strategy, every_task, self.automatic_optimization)

    def configure_callbacks(self) -> list[L.Callback]:
        # Lightning neither clips nor accumulates under manual optimisation (gradient
        # balancers): the gradient step takes trainer.gradient_clip_val and
        # accumulate_grad_batches over (this hook runs before Lightning checks them).
        if self._trainer is not None and isinstance(self.step, GradientBalancedStep):
            self.step.take_over_clipping_and_accumulation(self._trainer)
            self.hparams.grad_clip = self.step.grad_clip
        callbacks: list[L.Callback] = [DataSummary()]
        if self._trainer is not None and self._trainer.loggers:
            callbacks.append(LearningRateMonitor(logging_interval="step"))  # lr-<optimizer>[/pg<i>] every logged step
        callbacks += [GradualUnfreezing(self.transfer)] if self.transfer is not None else []
        return callbacks + ([WordVectorCoverage()] if self.model.vector_rows is not None else [])

    def training_step(self, batch: dict[str, TaskBatch], batch_idx: int) -> Tensor | None:
        return self.step(self, batch, batch_idx)

    def on_after_backward(self) -> None:
        if isinstance(self.step, LossWeightedStep):
            self.step.after_backward(self)

    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        value = gradient_clip_val or self.hparams.grad_clip
        if value:
            self.clip_gradients(optimizer, gradient_clip_val=value, gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    def on_train_start(self) -> None:
        if not self.automatic_optimization:
            stop_gradient_sync(self.trainer.strategy)

    def on_train_epoch_end(self) -> None:
        if isinstance(self.step, LossWeightedStep):
            self.step.epoch_end()

    @property
    def nonfinite_since(self) -> int | None:
        """The step from which every training step so far was skipped for a NaN/inf loss
        or gradients; None when the last step was finite."""
        return self.skipped.since

    @property
    def last_cosines(self) -> dict[tuple[str, str], float]:
        """The latest update's gradient cosine similarities by task pair (gradient balancers)."""
        return getattr(self.step, "last_cosines", {})

    # -- evaluation ----------------------------------------------------------------------
    def validation_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.evaluation.update("val", batch["task"], self.heads[batch["task"]], self(batch, batch["task"]), batch)

    def test_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.evaluation.update("test", batch["task"], self.heads[batch["task"]], self(batch, batch["task"]), batch)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def _log_metrics(self, stage: str) -> None:
        """Every task's metrics, and ``<stage>/average`` (see :meth:`TaskEvaluation.average`)."""
        results = self.evaluation.compute(stage)
        for task, values in results.items():
            for name, value in values.items():
                self.log(f"{stage}/{task}/{name}", value, add_dataloader_idx=False)
        if results:
            self.log(f"{stage}/average", self.evaluation.average(results), prog_bar=True)

    def predict_step(self, batch: TaskBatch, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        """Every task's decoded prediction for each input (see :func:`mtl.prediction.predict_records`)."""
        return predict_records(self.model, batch)

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the random state (dropout masks) so a resumed run continues exactly, and
        the model's config so that :meth:`load_from_checkpoint` needs nothing else."""
        checkpoint["random_state"] = random_state()
        if self.model_config is not None:
            checkpoint[MODEL_CONFIG] = self.model_config

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None, strict: bool | None = None, weights_only: bool | None = None, **kwargs: Any) -> MultiTaskModule:  # fmt: skip
        """Lightning's; a checkpoint of the ``mtl`` command is rebuilt from its model config."""
        rebuilt = None if hparams_file or kwargs else rebuild_from_checkpoint(cls, checkpoint_path, map_location, strict)
        return rebuilt or super().load_from_checkpoint(
            checkpoint_path, map_location, hparams_file, strict, weights_only, **kwargs
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("random_state") is not None:
            restore_random_state(checkpoint["random_state"])

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        scales = self.transfer.lr_scales(self.task_encoders) if self.transfer is not None else None
        groups = param_groups(self.named_parameters(), hp.lr, hp.weight_decay, scales)
        optimizer = self.optimizer(groups) if self.optimizer is not None else default_optimizer(groups, hp.lr, hp.betas)
        if self.lr_scheduler is not None:
            scheduler = self.lr_scheduler(optimizer)
        else:
            total = optimizer_steps(self.trainer, getattr(self.step, "accumulate", 1))
            scheduler = warmup_schedule(optimizer, total, hp.warmup, hp.schedule, hp.min_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
