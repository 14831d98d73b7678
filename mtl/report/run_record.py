"""What a finished run directory says about itself: results, config, seed and time."""

from __future__ import annotations

import csv
import fnmatch
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml


class ReportError(ValueError):
    """A run directory that cannot be reported, with what to do about it."""


@dataclass
class RunRecord:
    """One run: ``tasks`` maps task -> metric -> value (``results-<stage>.json``);
    ``row`` is the report row it belongs to (its name unless gathered, see
    :func:`gather_rows`)."""

    name: str
    directory: Path
    stage: str
    tasks: dict[str, dict[str, float]]
    average: float
    seconds: float
    global_step: int
    seed: int | None
    config: dict[str, Any]
    row: str = ""

    def __post_init__(self) -> None:
        self.row = self.row or self.name

    @classmethod
    def load(cls, directory: str | Path, stage: str = "fit", name: str | None = None, select: str = "last") -> RunRecord:
        """The run in ``directory``: its ``results-<stage>.json`` (``select="last"``: the
        final validation), or, with ``select="best"``, its best validation."""
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
        record = cls(
            name=name or run_name(directory),
            directory=directory,
            stage=data.get("stage", stage),
            tasks={task: {m: _number(v) for m, v in values.items()} for task, values in data["tasks"].items()},
            average=_number(data.get("average")),
            seconds=_number(data.get("seconds")),
            global_step=int(data.get("global_step", 0)),
            seed=config.get("seed_everything"),
            config=config,
        )
        return record.best_validation() if select == "best" else record

    def best_validation(self) -> RunRecord:
        """The same run at its best validation (highest ``val/average``, the first of
        equals) as logged in ``metrics.csv``, as a dev score with early stopping is read;
        ``global_step`` becomes that point's step, ``seconds`` stays the whole run's."""
        path = self.directory / "metrics.csv"
        if not path.is_file():
            raise ReportError(f"{self.directory}: no metrics.csv to find the best validation in; use --select last")
        with path.open(newline="") as handle:
            logged = [r for r in csv.DictReader(handle) if r.get("val/average")]
        rows = [r for r in logged if math.isfinite(float(r["val/average"]))]  # a diverged validation is no best
        if not rows:
            what = "every validation has a NaN val/average (the run diverged)" if logged else "no validation was logged"
            raise ReportError(f"{path}: {what}; use --select last")
        best = max(rows, key=lambda r: float(r["val/average"]))  # max keeps the first of equals
        tasks: dict[str, dict[str, float]] = {}
        for key, cell in best.items():
            parts = key.split("/")
            if len(parts) == 3 and parts[0] == "val" and cell:
                tasks.setdefault(parts[1], {})[parts[2]] = float(cell)
        return replace(self, stage="best val", tasks=dict(sorted(tasks.items())), average=float(best["val/average"]),
                       global_step=int(float(best["step"])) + 1)  # fmt: skip

    def metric_order(self, task: str) -> list[str]:
        """The task's metrics, its head's primary metric first (as configured), loss left out."""
        head = ((self.config.get("model") or {}).get("heads") or {}).get(task) or {}
        configured = (head.get("init_args") or {}).get("metrics") or []
        present = [m for m in self.tasks.get(task, {}) if m != "loss"]
        return [m for m in configured if m in present] + [m for m in present if m not in configured]


def _number(value: Any) -> float:
    """A results value as a float: null (a NaN or infinite value, or none) is NaN."""
    return math.nan if value is None else float(value)


def run_name(directory: Path) -> str:
    """``runs/glue_balancers/sum/version_0`` -> ``glue_balancers/sum``."""
    parts = directory.resolve().parts
    tail = parts[:-1] if parts[-1].startswith("version_") else parts
    if "runs" in tail:
        return "/".join(tail[len(tail) - tail[::-1].index("runs") :]) or directory.name
    return tail[-1]


def gather_rows(records: list[RunRecord], rows: list[str]) -> None:
    """Applies ``LABEL=PATTERN`` rules: each run whose name matches the shell-style
    ``PATTERN`` goes into the report row ``LABEL`` (the first matching rule wins), e.g.
    ``"single-task=glue_report/lstm/single/*"`` puts five single-task runs, and their
    seeds, on one row beside the multi-task runs. ``records`` is reordered so the rows
    come in the rules' order, then the runs no rule matches."""
    rules = []
    for rule in rows:
        label, sep, pattern = rule.partition("=")
        if not sep or not label.strip() or not pattern.strip():
            raise ReportError(f"--row {rule!r}: expected LABEL=PATTERN, e.g. 'single-task=glue_report/lstm/single/*'")
        rules.append((label.strip(), pattern.strip()))
    for label, pattern in rules:
        if not any(fnmatch.fnmatchcase(r.name, pattern) for r in records):
            names = ", ".join(sorted({r.name for r in records}))
            raise ReportError(f"--row {label}={pattern}: matches none of the runs ({names})")
    for record in records:
        record.row = next((label for label, pattern in rules if fnmatch.fnmatchcase(record.name, pattern)), record.name)
    order = {label: i for i, (label, _) in reversed(list(enumerate(rules)))}
    records.sort(key=lambda r: order.get(r.row, len(rules)))  # stable: runs keep their order within a row
