#!/usr/bin/env bash
# Issue 7, session 21: the specialist sweep (benchmarks/sdst_specialist_sweep.py) from another general
# teacher, every (attribute, recipe, protocol) one process, side by side on one GPU machine.
#
# usage: bash benchmarks/sdst_specialist_sweep_gpu.sh GENERAL_CKPT OUT_DIR [DEVICE]
#   env: PYTHON (python3), LIMIT (seconds per process, 420), SELECT (36), CONFIRM (36), STEPS (the recipe's),
#        ATTRIBUTES ("OCC FM IV SV"), RESET_RECIPES ("general base mid long_aug"), OPE_RECIPES ("general mid")
# Writes OUT_DIR/<attribute>_<recipe>[_reset].json (one per process) and OUT_DIR/sweep.tgz of them all.
set -u
general=${1:?usage: sdst_specialist_sweep_gpu.sh GENERAL_CKPT OUT_DIR [DEVICE]}
out=${2:?usage: sdst_specialist_sweep_gpu.sh GENERAL_CKPT OUT_DIR [DEVICE]}; device=${3:-cuda}
mkdir -p "$out"
export PYTHONPATH=. KDTRACK_PROGRESS=0 OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
sweep() {  # attribute recipe protocol
  timeout "${LIMIT:-420}" "${PYTHON:-python3}" benchmarks/sdst_specialist_sweep.py --attribute "$1" --recipe "$2" \
    --protocol "$3" --general "$general" --select "${SELECT:-36}" --confirm "${CONFIRM:-36}" --device "$device" \
    ${STEPS:+--steps "$STEPS"} --out "$out" > "$out/$1_$2_$3.log" 2>&1 &
}
for a in ${ATTRIBUTES:-OCC FM IV SV}; do
  for r in ${RESET_RECIPES:-general base mid long_aug}; do sweep "$a" "$r" reset; done
  for r in ${OPE_RECIPES:-general mid}; do sweep "$a" "$r" ope; done
done
wait
tar -C "$out" -czf "$out/sweep.tgz" $(cd "$out" && ls ./*.json ./*.log 2>/dev/null)
grep -h '"candidate"' "$out"/*.json || true
grep -L '"rows"' "$out"/*.json 2>/dev/null  # a process cut off by LIMIT before it wrote its rows
for f in "$out"/*.log; do grep -q Traceback "$f" && { echo "== $f"; tail -3 "$f"; }; done; true
