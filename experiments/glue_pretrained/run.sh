#!/bin/sh
# One run of `make glue-pretrained`: run.sh WHAT SEED, WHAT =
#   single/<task>    the task alone, from all-MiniLM-L6-v2 (glue_pretrained.yaml, --tasks);
#   sum, uncertainty all five tasks jointly (uncertainty: its fragment here);
#   finetune/<task>  the task alone for one more epoch, its encoder from the same seed's
#                    multi-task sum run (its last.ckpt; new head), as MT-DNN fine-tunes.
# Each run saves last.ckpt every 100 steps and continues from it when run again (a killed
# run resumes exactly). Needs MTL and DATA.
set -eu
what=$1 seed=$2
set -- -c experiments/glue.yaml -c experiments/glue_pretrained.yaml
case $what in
  single/*) set -- "$@" --tasks "[${what#single/}]" ;;
  finetune/*)
    ckpt=$(ls -dv runs/glue_pretrained/sum/seed"$seed"/version_* 2>/dev/null | tail -1)/checkpoints/last.ckpt
    [ -f "$ckpt" ] || { echo "run.sh: no multi-task checkpoint at $ckpt; run 'sum $seed' first" >&2; exit 2; }
    set -- "$@" --tasks "[${what#finetune/}]" --model.transfer.checkpoint="$ckpt" --trainer.max_epochs 1 ;;
  sum) ;;
  *) set -- "$@" -c "experiments/glue_pretrained/$what.yaml" ;;
esac
exec sh experiments/fit_once.sh "glue_pretrained/$what/seed$seed" "$@" --data.data_dir="$DATA" --seed_everything "$seed" \
  --checkpoint.every_n_train_steps 100 --ckpt_path last
