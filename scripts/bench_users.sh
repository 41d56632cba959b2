#!/bin/bash
# Issue 22 (docs/scaling.md, "One epoch against the number of users"): one epoch of the student shape with the
# sampled softmax (8,192 popularity draws) on synthetic 100,000-item catalogs of 100k and 1M users, validated and
# tested on 10,000 sampled users; one JSON line a catalog (epoch and step time, peak resident memory) for
# scripts/plot_scaling.py. Run it on a quiet machine: about 14 minutes on 2 cores. The data and checkpoints go to
# $SCALE_WORK (default: a fresh temporary directory, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
S=build/examples/slmrec
if [ -n "${SCALE_WORK:-}" ]; then W=$SCALE_WORK; mkdir -p "$W"; else W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; fi
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" >&2
for U in ${USERS:-100000 1000000}; do
  $S synth --users "$U" --items 100000 --mean-len 20 --seed 1 --out "$W/synth_u$U.txt" >&2
  /usr/bin/time -v -o "$W/time_u$U.txt" $S train --data "$W/synth_u$U.txt" --arch llama --dim 128 --heads 4 \
    --head classifier --loss sampled --negatives 8192 --epochs 1 --eval-users 10000 --test-users 10000 \
    --out "$W/run_u$U" > "$W/train_u$U.log" 2>&1
  /usr/bin/python3 - "$U" "$W" <<'PY'
import json, re, sys
users, w = int(sys.argv[1]), sys.argv[2]
epoch = json.loads(open(f"{w}/run_u{users}/metrics.jsonl").readline())
test = json.load(open(f"{w}/run_u{users}/test_metrics.json"))
timing = open(f"{w}/time_u{users}.txt").read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", timing).group(1)
interactions = sum(len(line.split()) - 1 for line in open(f"{w}/synth_u{users}.txt"))
print(json.dumps({"what": "users", "users": users, "items": 100000, "interactions": interactions,
                  "steps": epoch["step"], "epoch_s": round(epoch["train_seconds"], 1),
                  "step_ms": round(1000 * epoch["train_seconds"] / epoch["step"], 1), "wall": wall,
                  "peak_rss_mb": round(rss_kb / 1000), "test_ndcg10": round(test["NDCG@10"], 4)}), flush=True)
PY
done
