#!/bin/sh
# One run of `make ud-report`: run.sh WHAT SEED, WHAT = joint (UPOS, XPOS, FEATS and DEPREL
# on one encoder) or single/<task>. Needs MTL and DATA.
set -eu
what=$1 seed=$2
set -- -c experiments/ud_ewt.yaml -c experiments/ud_report/budget.yaml
case $what in
  single/*) set -- "$@" --tasks "[${what#single/}]" ;;
  joint) ;;
  *) echo "run.sh: WHAT is joint or single/<task>, not $what" >&2; exit 2 ;;
esac
exec sh experiments/fit_once.sh "ud_report/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed"
