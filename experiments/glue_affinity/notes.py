"""The notes of ``reports/glue_affinity.md``: the task affinity ``mtl affinity`` measured
(heatmap, mean matrices, where it and the gradient cosine agree in sign), the groupings it
suggests, and each task's primary metric trained in its suggested group against all five
tasks together, mean ± standard deviation over the seeds.

``python experiments/glue_affinity/notes.py AFFINITY_RUN FIGURES_DIR --together RUN ... --grouped RUN ... [--header TEXT]``
prints the Markdown and copies ``AFFINITY_RUN/affinity.png`` into ``FIGURES_DIR``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from mtl.report.comparison import mean_and_spread
from mtl.report.run_record import RunRecord


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("affinity_run", type=Path)
    parser.add_argument("figures", type=Path)
    parser.add_argument("--together", nargs="+", required=True, help="the runs of all tasks together (one per seed)")
    parser.add_argument("--grouped", nargs="+", required=True, help="the runs of the suggested groups (one per group and seed)")
    parser.add_argument("--header", default="", help="a paragraph printed first")
    args = parser.parse_args()
    summary = json.loads((args.affinity_run / "affinity.json").read_text(encoding="utf-8"))
    args.figures.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.affinity_run / "affinity.png", args.figures / "affinity.png")
    together = [RunRecord.load(run, select="best") for run in args.together]
    grouped = [RunRecord.load(run, select="best") for run in args.grouped]
    header = [args.header, ""] if args.header else []
    print("\n".join(header + affinity_section(summary, args.figures.name) + comparison_section(together, grouped)))


def affinity_section(summary: dict, figures: str) -> list[str]:
    tasks, affinity, cosine = summary["tasks"], summary["affinity"], summary["cosine"]
    steps = summary["steps"]
    pairs = [(i, j) for i in range(len(tasks)) for j in range(len(tasks)) if i != j and affinity[i][j] is not None]
    agree = [(i, j) for i, j in pairs if (affinity[i][j] > 0) == (cosine[i][j] > 0)]
    lines = [
        "## Task affinity",
        "",
        f"Measured every {summary['every_n_steps']} steps, {len(steps)} times (steps {steps[0]} to {steps[-1]}), "
        f"learning rate: {summary['lr']}. Row *i*, column *j*: `Z[i->j] = 1 - L_j(after a step on i) / L_j(before)`, "
        "mean over the measurements; > 0: a step on *i* lowers *j*'s loss. The diagonal is a task's own progress.",
        "",
        f"![affinity]({figures}/affinity.png)",
        "",
        *matrix(tasks, affinity, "affinity i -> j", 4),
        "",
        "Cosine of the two tasks' gradients of the shared encoder at the same steps (symmetric):",
        "",
        *matrix(tasks, cosine, "cosine", 3),
        "",
        f"The two agree in sign on {len(agree)} of the {len(pairs)} ordered pairs"
        + (
            ": they disagree on " + ", ".join(f"{tasks[i]} -> {tasks[j]}" for i, j in pairs if (i, j) not in agree)
            if len(agree) < len(pairs)
            else ""
        )
        + ".",
        "",
        "## Groupings",
        "",
        "As TAG chooses them: a group's affinity onto one of its tasks is the mean `Z[i->j]` over its other tasks, "
        "a task alone scores 0, a partition scores the sum; the best partition for each number of groups.",
        "",
        "| groups | partition | score |",
        "|---|---|---|",
        *(
            f"| {len(g['groups'])} | {' '.join('{' + ', '.join(group) + '}' for group in g['groups'])} | {g['score']:+.4f} |"
            for g in summary["groupings"]
        ),
        "",
    ]
    return lines


def matrix(tasks: list[str], rows: list[list[float | None]], corner: str, digits: int) -> list[str]:
    lines = [f"| {corner} | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for task, row in zip(tasks, rows):
        lines.append(f"| **{task}** | " + " | ".join("" if v is None else f"{v:+.{digits}f}" for v in row) + " |")
    return lines


def comparison_section(together: list[RunRecord], grouped: list[RunRecord]) -> list[str]:
    lines = [
        "## The suggested groups against all five together",
        "",
        "Each task's primary dev metric at its run's best validation (by the run's val/average), mean ± standard "
        "deviation over the seeds; *grouped*: the task trained with its group only, at the same budget and learning rate.",
        "",
        "| task | metric | group | all five together | grouped | grouped - together |",
        "|---|---|---|---|---|---|",
    ]
    for task in sorted({t for r in together for t in r.tasks}):
        metric = together[0].metric_order(task)[0]
        mine = [r for r in grouped if task in r.tasks]
        if not mine:
            continue
        both = [r.tasks[task][metric] for r in together]
        alone = [r.tasks[task][metric] for r in mine]
        group = "{" + ", ".join(sorted(mine[0].tasks)) + "}"
        lines.append(
            f"| {task} | {metric} | {group} | {mean_and_spread(both)} | {mean_and_spread(alone)} | {statistics.mean(alone) - statistics.mean(both):+.4f} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    main()
