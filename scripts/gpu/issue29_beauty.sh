#!/usr/bin/env bash
# Issue 29 on s3rec_beauty, on the H200 (float32, --device cuda): the pretrained-teacher
# study's runs side by side on one GPU, one CPU thread each, in phases that depend on
# each other, every phase under a deadline so that the call ends in time.
#
#   phase 1: seeds 0-2 of (a) 4 layers from random init and (d) 2 layers from scratch, with
#            the depth study's tuned Beauty setting (dropout 0.5, weight decay 0.1, 500
#            warm-up steps), and of (b) (stories260k's first 4 layers fine-tuned) and (c)
#            (frozen, LoRA r 16) at both points of the depth study's grid: the tuned
#            regularisation without warm-up (which stalls a pretrained start: LastFM) and
#            the defaults (dropout 0.2, no weight decay)
#   phase 2: (e) seeds 0-2: the 2 <- 4 student of the better of (b)/(c), each at its grid
#            point with the best mean validation NDCG@10, and its cross-entropy twin
#   eval:    test (full ranking, from training) and sampled-999 for every run
#
# A run still going at its phase's deadline is stopped and marked "cut" in the table
# (its best checkpoint is evaluated, so the number is a lower bound of a full run).
# Usage (from the repository root, the binary built here and carried in .gpu/):
#   BIN=.gpu SHARED=shared PHASES="1 2" DEADLINES="400 560" scripts/gpu/issue29_beauty.sh
# Environment: DATA, DEVICE, EXTRA (a dry run on the CPU), OUT (default /tmp/issue29), RUNS (default runs/gpu29, ignored by git, so a warm machine keeps it between calls).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/issue29}
RUNS=${RUNS:-runs/gpu29}
BIN=${BIN:-.gpu}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
PHASES=${PHASES:-"1 2"}
read -r -a deadline <<< "${DEADLINES:-400 560}"
mkdir -p "$OUT" "$RUNS"
export LD_LIBRARY_PATH=$PWD/$BIN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
slm="$PWD/$BIN/slmrec"
B=${DATA:-$SHARED/data/s3rec_beauty/Beauty.txt} S=$SHARED/fixtures/stories260k
DEVICE=${DEVICE:-cuda}
read -r -a extra <<< "${EXTRA:-}"  # a dry run here: DEVICE=cpu DATA=small.txt EXTRA="--epochs 2"
SHAPE="--arch llama --dim 64 --heads 8 --kv-heads 4 --ffn 172"
TUNED="--dropout 0.5 --weight-decay 0.1 --warmup 500"
LORA="--freeze-backbone --lora-rank 16 --lora-alpha 16 --lora-targets gate,up,down,q,k,v,o"
start=$(date +%s)
log() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$OUT/progress.log"; }

# train NAME ARGS...: one run in the background, its log beside its checkpoint.
train() {
  local name=$1; shift
  [ -e "$RUNS/$name/test_metrics.json" ] && return
  "$slm" "$@" "${extra[@]}" --device "$DEVICE" --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1 &
}
# wait_until T: wait for every run, stopping (SIGTERM, then SIGKILL) those alive at T s.
wait_until() {
  while [ -n "$(jobs -rp)" ] && [ $(($(date +%s) - start)) -lt "$1" ]; do sleep 2; done
  if [ -n "$(jobs -rp)" ]; then
    log "deadline $1 s: stopping $(jobs -rp | wc -l) runs"
    for p in $(jobs -rp); do kill "$p"; done
    sleep 5
    for p in $(jobs -rp); do kill -9 "$p"; done
  fi
  wait
}
# best_valid SEEDS PREFIX...: the prefix whose runs PREFIX_sS (S in SEEDS) have the highest
# mean best validation NDCG@10 (one seed: that run's), printed as PREFIX.
best_valid() {
  python3 - "$RUNS" "$@" <<'EOF'
import json, sys
runs, seeds, prefixes = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
def best(run):
    try:
        return max(json.loads(l)["valid"]["NDCG@10"] for l in open(f"{runs}/{run}/metrics.jsonl"))
    except (OSError, ValueError, KeyError):
        return float("-inf")
print(max(prefixes, key=lambda p: sum(best(f"{p}_s{s}") for s in seeds) / len(seeds)))
EOF
}
grid_b=(b4_d5w1 b4_d2w0)
grid_c=(c4_d5w1 c4_d2w0)
reg() {  # the grid point's dropout and weight decay from its name
  case $1 in *_d5w1) echo "--dropout 0.5 --weight-decay 0.1" ;; *_d2w0) echo "--dropout 0.2 --weight-decay 0" ;; esac
}
pretrained() {  # pretrained NAME SEED: (b) or (c) at the named grid point
  local name=$1 seed=$2 lora=""
  case $name in c4*) lora=$LORA ;; esac
  # shellcheck disable=SC2046
  train "${name}_s$seed" train --data "$B" --seed "$seed" --init "hf:$S" --layers 4 $(reg "$name") $lora
}
student() {  # student SEED TEACHER_RUN: (e) distilled and its cross-entropy twin
  train "kd2_s$1" distill --teacher "$2" --data "$B" --student-layers 2 --blocks 2 --init first --seed "$1"
  train "ce2_s$1" distill --teacher "$2" --data "$B" --student-layers 2 --blocks 2 --init first --seed "$1" \
    --lambda-cos 0 --lambda-norm 0 --lambda-ms 0
}
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; lscpu | grep 'Model name'; nproc; } \
  > "$OUT/machine.txt" 2>&1
(command -v nvidia-smi > /dev/null && nvidia-smi dmon -s u -d 15 > "$OUT/gpu_use.txt" 2>&1 &)  # not a job of ours
i=0
for phase in $PHASES; do
  log "phase $phase"
  case $phase in
    1)
      for s in 0 1 2; do
        train "a4_s$s" train --data "$B" --seed "$s" $SHAPE --layers 4 $TUNED
        train "d2_s$s" train --data "$B" --seed "$s" $SHAPE --layers 2 $TUNED
        for g in "${grid_b[@]}" "${grid_c[@]}"; do pretrained "$g" "$s"; done
      done
      ;;
    2)
      chosen_b=$(best_valid 0,1,2 "${grid_b[@]}") chosen_c=$(best_valid 0,1,2 "${grid_c[@]}")
      echo "$chosen_b" > "$RUNS/chosen_b"; echo "$chosen_c" > "$RUNS/chosen_c"
      log "grid choice (best mean validation): $chosen_b $chosen_c"
      for s in 0 1 2; do
        teacher=$RUNS/$(best_valid "$s" "$chosen_b" "$chosen_c")_s$s
        log "teacher of (e), seed $s: $teacher"; echo "$teacher" > "$RUNS/teacher_s$s"
        student "$s" "$teacher"
      done
      ;;
  esac
  wait_until "${deadline[$i]}"
  i=$((i + 1))
done

log "evaluation"
for run in "$RUNS"/*/; do
  run=${run%/}
  [ -e "$run/model.safetensors" ] || continue
  cut=""; [ -e "$run/test_metrics.json" ] || cut=1
  if [ -n "$cut" ]; then
    "$slm" eval --checkpoint "$run" --data "$B" --device "$DEVICE" --json > "$run/test_eval.txt" 2>&1 &
  fi
  [ -e "$run/sampled999.json" ] ||
    "$slm" eval --checkpoint "$run" --data "$B" --protocol sampled --negatives 999 --device "$DEVICE" --json \
      > "$run/sampled999.json" 2>&1 &
  while [ "$(jobs -rp | wc -l)" -ge 12 ]; do sleep 1; done
done
wait
log "done"
# Everything small comes back: logs, metrics, choices (no weights).
tar -czf "$OUT/runs29.tgz" --exclude='*.safetensors' "$RUNS"
ls -la "$OUT"
