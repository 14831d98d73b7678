"""The GLUE report's budget: each single-task run takes the steps the multi-task run's
temperature sampling gives its task, computed from the real training sets."""

from __future__ import annotations

from pathlib import Path

import yaml

from mtl.data.sampling import TaskSampler
from mtl.data.source import load_task_splits
from mtl.data.task import Task, resolve_source

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def test_single_task_steps_are_the_multi_task_runs_share(shared_data: Path) -> None:
    glue = yaml.safe_load((EXPERIMENTS / "glue.yaml").read_text())
    budget = yaml.safe_load((EXPERIMENTS / "glue_report" / "budget.yaml").read_text())
    total = budget["data"]["steps_per_epoch"]
    assert budget["trainer"]["max_epochs"] == 1

    sizes = {}
    for spec in glue["data"]["tasks"]:
        task = resolve_source(Task(**spec), str(shared_data))
        sizes[task.name] = len(load_task_splits(task)["train"])
    assert sizes == {"sst2": 67349, "cola": 8551, "mrpc": 3668, "stsb": 5749, "rte": 2490}

    sampler = TaskSampler("temperature", glue["data"]["temperature"])
    probabilities = sampler.probabilities(sizes)
    singles = {}
    for name, p in probabilities.items():
        single = yaml.safe_load((EXPERIMENTS / "glue_report" / "single" / f"{name}.yaml").read_text())
        singles[name] = single["data"]["steps_per_epoch"]
        assert singles[name] == round(total * p), (name, singles[name], total * p)
    # the five single-task runs together cost one multi-task run (to rounding)
    assert abs(sum(singles.values()) - total) <= len(singles)
