#!/bin/sh
# `make glue-affinity`: which GLUE tasks help each other, and does training the grouping that
# suggests do better than all five together? Everything on the balancer grid's Sum
# (glue.yaml + glue_balancers/budget.yaml + glue_balancers/sum.yaml at the learning rate in TUNED):
#  1. `mtl affinity`, seed 0, STEPS steps, measured every EVERY steps:
#     runs/glue_affinity/affinity/version_N (affinity.json, affinity.png); kept once finished;
#  2. the best partition into GROUPS groups it suggests (groups.py), each group trained on its
#     own (--tasks) with each of SEEDS: runs/glue_affinity/<task+task>/seed<N>;
#  3. all five together with each seed: the grid's own runs (glue_balancers/run.sh sum N).
# Finished runs are skipped (fit_once.sh). Needs MTL, PYTHON, DATA, TUNED, SEEDS, GROUPS, STEPS, EVERY.
set -eu
[ -f "$TUNED" ] || { echo "run.sh: no $TUNED; run make glue-balancers-tune first" >&2; exit 2; }
set -- -c experiments/glue.yaml -c experiments/glue_balancers/budget.yaml -c experiments/glue_balancers/sum.yaml -c "$TUNED"
affinity=$(ls -dv runs/glue_affinity/affinity/version_* 2>/dev/null | tail -1)
if [ -z "$affinity" ] || [ ! -f "$affinity/affinity.json" ]; then
  mkdir -p runs/logs
  echo "start: glue_affinity/affinity (log runs/logs/glue_affinity_affinity.log)"
  OMP_NUM_THREADS=${THREADS:-1} "$MTL" affinity "$@" --run_name glue_affinity/affinity --steps "$STEPS" \
    --affinity.every_n_steps "$EVERY" --data.data_dir="$DATA" --seed_everything 0 \
    --trainer.enable_progress_bar=false ${EXTRA_ARGS:-} > runs/logs/glue_affinity_affinity.log 2>&1 \
    || { echo "FAILED: glue_affinity/affinity, see runs/logs/glue_affinity_affinity.log"; tail -5 runs/logs/glue_affinity_affinity.log; exit 1; }
  affinity=$(ls -dv runs/glue_affinity/affinity/version_* | tail -1)
  [ -f "$affinity/affinity.json" ] || { echo "run.sh: mtl affinity wrote no runs/glue_affinity/affinity/version_*/affinity.json" >&2; exit 1; }
fi
"$PYTHON" experiments/glue_affinity/groups.py "$affinity/affinity.json" "$GROUPS" > runs/glue_affinity/groups.txt
while read -r tasks; do
  for seed in $SEEDS; do
    sh experiments/fit_once.sh "glue_affinity/$(echo "$tasks" | tr ' ' +)/seed$seed" "$@" --tasks "[$(echo "$tasks" | tr ' ' ,)]" \
      --data.data_dir="$DATA" --seed_everything "$seed"
  done
done < runs/glue_affinity/groups.txt
for seed in $SEEDS; do sh experiments/glue_balancers/run.sh sum "$seed"; done
