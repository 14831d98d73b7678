"""Per-task validation and test metrics, accumulated over an epoch and reduced across
processes once at its end."""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from mtl.contracts import TaskBatch
from mtl.heads.base import TaskHead
from mtl.training.distributed import sum_over_processes

STAGES = ("val", "test")


class TaskEvaluation(nn.Module):
    """Each task's metrics (its head's ``MetricCollection``) and mean loss, per stage.

    Everything is kept in metric objects and synchronised by torchmetrics in
    ``compute``, never per step: under DDP processes may evaluate different numbers of
    batches, and none at all of a small task (see :class:`mtl.data.shard_sampler.ShardSampler`).
    """

    def __init__(self, heads: nn.ModuleDict) -> None:
        super().__init__()
        self.metrics = nn.ModuleDict({s: nn.ModuleDict({t: h.make_metrics() for t, h in heads.items()}) for s in STAGES})
        self.losses = nn.ModuleDict({s: nn.ModuleDict({t: MeanMetric() for t in heads}) for s in STAGES})
        self._updated: dict[str, set[str]] = {s: set() for s in STAGES}
        self.primary = {t: h.primary_metric for t, h in heads.items()}

    def higher_is_better(self, task: str) -> bool:
        """The direction of ``task``'s primary metric, as its torchmetrics metric declares
        it in ``higher_is_better`` (False for mse and perplexity; None, as correlations
        leave it, counts as higher is better). A head's own lower-is-better metric sets
        ``higher_is_better = False``; the loss is lower-is-better."""
        if self.primary[task] == "loss":
            return False
        return getattr(self.metrics[STAGES[0]][task][self.primary[task]], "higher_is_better", None) is not False

    def average(self, results: dict[str, dict[str, Tensor]]) -> float:
        """The score of one stage's ``results`` (from :meth:`compute`), higher is better:
        the mean over tasks of each primary metric, negated where lower is better (so
        ``0.9`` accuracy and ``0.2`` mse average to ``(0.9 - 0.2) / 2``). NaN when any
        primary metric or loss is NaN or infinite: a diverged model has no score, and
        the checkpoint callback never ranks it as best."""
        scores = [float(v[self.primary[t]]) * (1 if self.higher_is_better(t) else -1) for t, v in results.items()]
        finite = all(bool(torch.isfinite(torch.as_tensor(v["loss"]))) for v in results.values())
        return sum(scores) / len(scores) if finite else math.nan

    def update(self, stage: str, task: str, head: TaskHead, logits: Tensor, batch: TaskBatch) -> None:
        """Adds a batch's labelled rows (:meth:`TaskHead.labelled`); a batch without any
        adds nothing, as a process without rows of the task (the loss is a mean over
        labelled rows, weighted by their count)."""
        size = int(head.labelled(batch).sum())
        if size == 0:
            return
        self.losses[stage][task].update(head.loss(logits, batch).detach(), weight=size)
        self.metrics[stage][task].update(*head.metric_inputs(logits, batch))
        self._updated[stage].add(task)

    def compute(self, stage: str) -> dict[str, dict[str, Tensor]]:
        """``{task: {metric: value, "loss": value}}`` for the tasks seen this epoch (in the
        heads' order), then reset for the next epoch."""
        results = {}
        for task in self._seen_by_any_process(stage):
            with warnings.catch_warnings():
                if task not in self._updated[stage]:  # no rows here; the reduction brings the others'
                    warnings.filterwarnings("ignore", message=r".*was called before the ``update`` method")
                values = dict(self.metrics[stage][task].compute())
                values["loss"] = self.losses[stage][task].compute()
            self.metrics[stage][task].reset()
            self.losses[stage][task].reset()
            results[task] = values
        self._updated[stage].clear()
        return results

    def _seen_by_any_process(self, stage: str) -> list[str]:
        """The tasks some process evaluated, the same list on every process: each then
        takes part in every metric's reduction, those it had no rows of too."""
        tasks = list(self.metrics[stage])
        seen = torch.tensor([task in self._updated[stage] for task in tasks], dtype=torch.float32)
        seen = sum_over_processes(seen.to(self.losses[stage][tasks[0]].weight.device))
        return [task for task, count in zip(tasks, seen.tolist()) if count > 0]
