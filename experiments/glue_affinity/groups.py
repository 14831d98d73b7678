"""The grouping ``mtl affinity`` suggests with a given number of groups, one group a line.

``python experiments/glue_affinity/groups.py runs/glue_affinity/affinity/version_N/affinity.json 2``
prints ``sst2 cola`` then ``mrpc stsb rte`` (each group's tasks, space-separated), the
best partition into that many groups by TAG's total within-group affinity.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str, groups: int) -> None:
    summary = json.loads(Path(path).read_text(encoding="utf-8"))
    found = [g for g in summary["groupings"] if len(g["groups"]) == groups]
    if not found:
        counts = sorted(len(g["groups"]) for g in summary["groupings"])
        sys.exit(
            f"groups.py: {path} has no grouping into {groups} groups (it has {counts}): measure more steps, or choose one of those"
        )
    for group in found[0]["groups"]:
        print(" ".join(group))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
