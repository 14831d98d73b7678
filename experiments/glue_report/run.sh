#!/bin/sh
# One run of `make glue-report`: run.sh ENCODER WHAT SEED, WHAT = single/<task> or a
# balancer (sum: glue.yaml's own; others: a fragment here). Needs MTL and DATA.
set -eu
encoder=$1 what=$2 seed=$3
set -- -c experiments/glue.yaml -c experiments/glue_report/budget.yaml -c "experiments/glue_report/$encoder.yaml"
case $what in
  single/*) set -- "$@" -c "experiments/glue_report/$what.yaml" --tasks "[${what#single/}]" ;;
  sum) ;;
  *) set -- "$@" -c "experiments/glue_report/$what.yaml" ;;
esac
exec sh experiments/fit_once.sh "glue_report/$encoder/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed"
