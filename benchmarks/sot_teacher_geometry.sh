#!/usr/bin/env bash
# SiamFC general teachers trained side by side on one GPU at wider search geometries, for 9x the
# shipped teacher's pairs, each chosen on 36 validation sequences.
#
# The question (RESULTS.md, SDST): does a teacher trained on the search-crop side the tracker uses
# (the shipped 128-px teacher tracks with 160-px crops) or wider, with a longer schedule, track
# better -- and is it a starting point that attribute fine-tunes can improve on? Each variant is
# one `kdtrack train sot` process:
#
#   t128        the shipped geometry (128-px training crops), longer, chosen on 36 sequences
#   t160        160-px training crops: the side the shipped tracker searches (it tracks at 200)
#   t160_reach1 the same with training shifts up to the map's full reach
#   t160_norm   the same with per-crop input standardisation (SiamFCConfig.input_norm="crop")
#   t192        192-px training crops
#   t192_norm   the same with input standardisation
#
# usage: bash benchmarks/sot_teacher_geometry.sh OUT_DIR [DEVICE] [EPOCHS] [STEPS]
#   env: PYTHON (default python3), LIMIT (seconds per process, default 510), TRAIN_SEQ (1440),
#        VAL_SEQ (36), WORKERS (2), VARIANTS (a subset of the tags above, space-separated)
# A process stopped by LIMIT keeps its best checkpoint so far (written on every improvement); its
# log's last epoch line says how far it got. The logs end up in OUT_DIR/logs.tgz.
set -u
out=${1:?usage: sot_teacher_geometry.sh OUT_DIR [DEVICE] [EPOCHS] [STEPS]}
device=${2:-cuda}; epochs=${3:-12}; steps=${4:-600}
mkdir -p "$out"
export PYTHONPATH=. KDTRACK_PROGRESS=0 OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

declare -A FLAGS=(
  [t128]="--search-size 128"
  [t160]="--search-size 160"
  [t160_reach1]="--search-size 160 --shift-of-reach 1.0"
  [t160_norm]="--search-size 160 --input-norm crop"
  [t192]="--search-size 192"
  [t192_norm]="--search-size 192 --input-norm crop"
)
for tag in ${VARIANTS:-t128 t160 t160_reach1 t160_norm t192 t192_norm}; do
  [[ -n ${FLAGS[$tag]+x} ]] || { echo "unknown variant $tag; known: ${!FLAGS[*]}" >&2; exit 2; }
  # shellcheck disable=SC2086  # FLAGS holds several words on purpose
  timeout "${LIMIT:-510}" "${PYTHON:-python3}" -m kdtrack_lite.cli train sot --role teacher --device "$device" \
    --workers "${WORKERS:-2}" --threads 1 --train-sequences "${TRAIN_SEQ:-1440}" --val-sequences "${VAL_SEQ:-36}" \
    --epochs "$epochs" --steps "$steps" --out "$out/$tag.pt" ${FLAGS[$tag]} > "$out/$tag.log" 2>&1 &
done
wait
tar -C "$out" -czf "$out/logs.tgz" $(cd "$out" && ls ./*.log)
grep -H "best_val\|epoch" "$out"/*.log | tail -n 200
