"""Every balancer against Sum seed by seed: the notes of ``reports/glue_balancers.md``.

``python experiments/glue_balancers/against_sum.py RUN_DIR ...`` (each
``runs/glue_balancers/<balancer>/seed<N>/version_M``) prints a Markdown table: for each
balancer, its dev average at its best validation and the difference to Sum's run of the
same seed (same data order, initialisation and learning rate: only the balancer differs),
mean ± standard deviation over the seeds both have, the seeds it beats Sum on, and each
task's primary metric's mean difference. Seed-to-seed spread is large at this budget;
a paired difference removes the part both runs of a seed share.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from mtl.report.comparison import mean_and_spread
from mtl.report.run_record import RunRecord

BASELINE = "sum"


def main(runs: list[str]) -> None:
    by_balancer: dict[str, dict[int, RunRecord]] = {}
    for run in runs:
        record = RunRecord.load(run, select="best")
        balancer = Path(run).parent.parent.name  # runs/glue_balancers/<balancer>/seed<N>/version_M
        by_balancer.setdefault(balancer, {})[record.seed] = record
    baseline = by_balancer.get(BASELINE)
    if not baseline:
        print(f"No {BASELINE} runs among the runs given: no paired comparison.")
        return
    tasks = sorted(next(iter(baseline.values())).tasks)
    metrics = {t: next(iter(baseline.values())).metric_order(t)[0] for t in tasks}
    rows = []
    for balancer, seeds in by_balancer.items():
        common = sorted(set(seeds) & set(baseline))
        diffs = [seeds[s].average - baseline[s].average for s in common]
        task_diffs = [
            statistics.mean(seeds[s].tasks[t][metrics[t]] - baseline[s].tasks[t][metrics[t]] for s in common)
            if common
            else float("nan")
            for t in tasks
        ]
        rows.append((statistics.mean(diffs) if diffs else float("nan"), balancer, seeds, common, diffs, task_diffs))
    header = (
        "| balancer | dev average | against Sum, same seed | seeds better than Sum | "
        + " | ".join(f"{t} {metrics[t]}" for t in tasks)
        + " |"
    )
    lines = [
        "## Against Sum, seed by seed",
        "",
        "Each balancer's dev average (at its best validation) minus Sum's of the same seed, mean ± standard deviation "
        "over the seeds; then each task's primary metric, mean difference to Sum. Sum first, then by the average's difference.",
        "",
        header,
        "|---|---|---|---|" + "---|" * len(tasks),
    ]
    ordered = sorted(rows, key=lambda r: (r[1] != BASELINE, -r[0], r[1]))  # Sum first, then by the difference
    for mean_diff, balancer, seeds, common, diffs, task_diffs in ordered:
        averages = [seeds[s].average for s in sorted(seeds)]
        better = sum(d > 0 for d in diffs)
        against = (
            "" if balancer == BASELINE else f"{mean_diff:+.4f}" + (f" ± {statistics.stdev(diffs):.4f}" if len(diffs) > 1 else "")
        )
        wins = "" if balancer == BASELINE else f"{better} of {len(common)}"
        cells = [mean_and_spread(averages), against, wins] + ["" if balancer == BASELINE else f"{d:+.4f}" for d in task_diffs]
        lines.append(f"| {balancer} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
