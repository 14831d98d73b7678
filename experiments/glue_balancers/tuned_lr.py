"""The learning rate for every balancer of `make glue-balancers`: Sum's best by val/average.

``python experiments/glue_balancers/tuned_lr.py RUN_DIR ... > tuned.yaml``: each RUN_DIR is a
finished ``lr/<value>`` tuning run (its best ``val/average`` in ``metrics.csv``); prints the
config fragment that sets the winner, with every candidate's score as a comment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mtl.report.learning_curves import read_series


def main(runs: list[str]) -> None:
    scores = {}
    for run in runs:
        validations = read_series(Path(run)).get("val/average")
        if not validations or not (Path(run) / "results-fit.json").is_file():
            sys.exit(f"tuned_lr.py: {run} is not a finished run with val/average in its metrics.csv")
        lr = float(Path(run).parent.parent.name)  # runs/glue_balancers/lr/<value>/seed0/version_N
        scores[lr] = max(value for _, value in validations)
    if not scores:
        sys.exit("tuned_lr.py: no tuning run given")
    best = max(scores, key=scores.get)
    print("# Written by `make glue-balancers-tune`: Sum's learning rate with the best val/average")
    print("# (experiments/glue_balancers/budget.yaml, seed 0); every balancer trains at it.")
    for lr, score in sorted(scores.items()):
        print(f"#   lr {lr:g}: val/average {score:.4f}")
    print(f"model:\n  lr: {best:g}")


if __name__ == "__main__":
    main(sys.argv[1:])
