#!/bin/sh
# One run of `make glue-report`: run.sh ENCODER WHAT SEED, WHAT =
#   single/<task>      the task alone (its share of the steps, single/<task>.yaml);
#   pretrained/<task>  the task alone, fine-tuned from the denoising + masked-LM
#                      pre-training of `make glue-transfer` (lstm only; DAE_CKPT, by
#                      default the newest runs/glue_dae checkpoint);
#   a balancer         all five tasks jointly (sum: glue.yaml's own; others: a fragment here).
# Needs MTL and DATA.
set -eu
encoder=$1 what=$2 seed=$3
base=experiments/glue.yaml
case $what in pretrained/*) base=experiments/glue_from_dae.yaml ;; esac
set -- -c $base -c experiments/glue_report/budget.yaml -c "experiments/glue_report/$encoder.yaml"
case $what in
  single/*) set -- "$@" -c "experiments/glue_report/$what.yaml" --tasks "[${what#single/}]" ;;
  pretrained/*)
    [ "$encoder" = lstm ] || { echo "run.sh: pretrained/ runs need the lstm encoder (the pre-trained one), not $encoder" >&2; exit 2; }
    ckpt=${DAE_CKPT:-$(ls -dv runs/glue_dae/version_* 2>/dev/null | tail -1)/checkpoints/last.ckpt}
    [ -f "$ckpt" ] || { echo "run.sh: no pre-trained checkpoint at $ckpt; run make glue-transfer first or set DAE_CKPT" >&2; exit 2; }
    set -- "$@" -c "experiments/glue_report/single/${what#pretrained/}.yaml" --tasks "[${what#pretrained/}]" --model.transfer.checkpoint="$ckpt" ;;
  sum) ;;
  *) set -- "$@" -c "experiments/glue_report/$what.yaml" ;;
esac
exec sh experiments/fit_once.sh "glue_report/$encoder/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed"
