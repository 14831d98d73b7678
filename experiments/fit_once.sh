#!/bin/sh
# fit_once.sh NAME ARGS...: `$MTL fit ARGS --run_name NAME`, unless runs/NAME already holds a
# finished run (results-fit.json), so an interrupted grid of runs continues where it stopped.
# The output goes to runs/logs/<NAME with _ for />.log; THREADS CPU threads (default 1) and
# EXTRA_ARGS (appended) come from the environment.
set -eu
name=$1; shift
last=$(ls -dv "runs/$name"/version_* 2>/dev/null | tail -1)
if [ -n "$last" ] && [ -f "$last/results-fit.json" ]; then
  echo "done already: $name ($last)"; exit 0
fi
mkdir -p runs/logs
log=runs/logs/$(echo "$name" | tr / _).log
echo "start: $name (log $log)"
OMP_NUM_THREADS=${THREADS:-1} "$MTL" fit "$@" --run_name "$name" --trainer.enable_progress_bar=false ${EXTRA_ARGS:-} \
  > "$log" 2>&1 || { echo "FAILED: $name, see $log"; tail -5 "$log"; exit 1; }
echo "finished: $name"
