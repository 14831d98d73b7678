"""What a finished run directory says about itself: results, config, seed and time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ReportError(ValueError):
    """A run directory that cannot be reported, with what to do about it."""


@dataclass
class RunRecord:
    """One run: ``tasks`` maps task -> metric -> value (``results-<stage>.json``)."""

    name: str
    directory: Path
    stage: str
    tasks: dict[str, dict[str, float]]
    average: float
    seconds: float
    global_step: int
    seed: int | None
    config: dict[str, Any]

    @classmethod
    def load(cls, directory: str | Path, stage: str = "fit", name: str | None = None) -> RunRecord:
        directory = Path(directory)
        results = directory / f"results-{stage}.json"
        if not results.is_file():
            found = sorted(p.name for p in directory.glob("results-*.json")) if directory.is_dir() else []
            raise ReportError(
                f"{directory}: no {results.name} (found {found or 'none'}); the run did not finish its {stage} stage. "
                f"Finish it with `mtl fit -c <config> --ckpt_path {directory}/checkpoints/last.ckpt`, or pick --stage "
                "from what was found"
            )
        data = json.loads(results.read_text())
        config_file = directory / "config.yaml"
        config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
        return cls(
            name=name or run_name(directory),
            directory=directory,
            stage=data.get("stage", stage),
            tasks=data["tasks"],
            average=float(data.get("average", float("nan"))),
            seconds=float(data.get("seconds", float("nan"))),
            global_step=int(data.get("global_step", 0)),
            seed=config.get("seed_everything"),
            config=config,
        )

    def metric_order(self, task: str) -> list[str]:
        """The task's metrics, its head's primary metric first (as configured), loss left out."""
        head = ((self.config.get("model") or {}).get("heads") or {}).get(task) or {}
        configured = (head.get("init_args") or {}).get("metrics") or []
        present = [m for m in self.tasks.get(task, {}) if m != "loss"]
        return [m for m in configured if m in present] + [m for m in present if m not in configured]


def run_name(directory: Path) -> str:
    """``runs/glue_balancers/sum/version_0`` -> ``glue_balancers/sum``."""
    parts = directory.resolve().parts
    tail = parts[:-1] if parts[-1].startswith("version_") else parts
    if "runs" in tail:
        return "/".join(tail[len(tail) - tail[::-1].index("runs") :]) or directory.name
    return tail[-1]
