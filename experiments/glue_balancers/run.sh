#!/bin/sh
# One run of `make glue-balancers`: run.sh WHAT SEED, WHAT =
#   lr/<value>   Sum at that learning rate (the tuning runs, seed 0 only);
#   <balancer>   all five tasks with experiments/glue_balancers/<balancer>.yaml, at the
#                learning rate the tuning chose (TUNED, default experiments/glue_balancers/tuned.yaml).
# Every run: glue.yaml + budget.yaml. Finished runs are skipped (fit_once.sh). Needs MTL and DATA.
set -eu
what=$1 seed=$2
set -- -c experiments/glue.yaml -c experiments/glue_balancers/budget.yaml
case $what in
  lr/*) set -- "$@" --model.lr "${what#lr/}" ;;
  *)
    tuned=${TUNED:-experiments/glue_balancers/tuned.yaml}
    [ -f $tuned ] || { echo "run.sh: no $tuned; run make glue-balancers-tune first" >&2; exit 2; }
    set -- "$@" -c "experiments/glue_balancers/$what.yaml" -c $tuned ;;
esac
exec sh experiments/fit_once.sh "glue_balancers/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed"
