#!/bin/sh
# One run of `make ud-report`: run.sh WHAT SEED, WHAT = joint (UPOS, XPOS, FEATS and DEPREL
# on one encoder), single/<task>, or spelling/joint and spelling/<task>: the same with word
# spelling features in the heads (spelling.yaml), or minilm/joint and minilm/<task>: on the
# pretrained all-MiniLM-L6-v2 encoder (minilm.yaml); minilm/spelling/...: both. Needs MTL and DATA.
set -eu
what=$1 seed=$2
set -- -c experiments/ud_ewt.yaml -c experiments/ud_report/budget.yaml
part=$what
while :; do
  case $part in
    spelling/*) set -- "$@" -c experiments/ud_report/spelling.yaml; part=${part#spelling/} ;;
    minilm/*) set -- "$@" -c experiments/ud_report/minilm.yaml; part=${part#minilm/} ;;
    *) break ;;
  esac
done
case $part in
  joint) ;;
  single/*) set -- "$@" --tasks "[${part#single/}]" ;;
  upos|xpos|feats|deprel) [ "$part" != "$what" ] || { echo "run.sh: WHAT is joint, single/<task>, spelling/<joint|task> or minilm/<joint|task>, not $what" >&2; exit 2; }
    set -- "$@" --tasks "[$part]" ;;
  *) echo "run.sh: WHAT is joint, single/<task>, spelling/<joint|task> or minilm/<joint|task>, not $what" >&2; exit 2 ;;
esac
exec sh experiments/fit_once.sh "ud_report/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed"
