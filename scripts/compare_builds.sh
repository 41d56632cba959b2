#!/usr/bin/env bash
# Same results before and after a change: runs the same short trainings with
# the `slmrec` tool of two builds (same seeds, same flags) and compares every
# test metric they report, exactly; then the pipeline's table of both builds.
# Usage: scripts/compare_builds.sh BEFORE_BUILD AFTER_BUILD OUT_DIR [DATA]
#   BEFORE_BUILD, AFTER_BUILD: build directories (their examples/slmrec and examples/pipeline)
#   DATA: a sequences file (default ../shared/data/s3rec_beauty/Beauty.txt)
# The runs are short (1-2 epochs) but cover every head (tied, classifier,
# projected), both losses' frames (full and sampled softmax, sampled BCE), the
# multi-supervision heads, distillation and pruning; a difference in any bit of the
# arithmetic shows in the metrics' printed digits.
set -euo pipefail
before=$1 after=$2 out=$3
data=${4:-../shared/data/s3rec_beauty/Beauty.txt}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$out"

runs=(
  "sasrec|train --arch sasrec --epochs 2 --seed 0"
  "sasrec_bce|train --arch sasrec --epochs 1 --seed 0 --loss bce"
  "llama_classifier|train --arch llama --layers 2 --head classifier --epochs 1 --seed 0"
  "llama_projected|train --arch llama --layers 2 --dim 64 --item-dim 32 --head projected --epochs 1 --seed 0"
  "llama_sampled|train --arch llama --layers 2 --loss sampled --negatives 256 --epochs 1 --seed 0"
  "teacher|train --arch llama --layers 4 --epochs 1 --seed 0"
)
status=0
for tag in before after; do
  if [ $tag = before ]; then build=$before; else build=$after; fi
  mkdir -p "$out/$tag"
  for r in "${runs[@]}"; do
    name=${r%%|*} args=${r#*|}
    # shellcheck disable=SC2086
    "$build/examples/slmrec" $args --data "$data" --out "$out/$tag/$name" > "$out/$tag/$name.log" 2>&1
  done
  "$build/examples/slmrec" distill --teacher "$out/$tag/teacher" --data "$data" --student-layers 2 --blocks 2 \
    --lambda-ms 1 --epochs 1 --seed 0 --out "$out/$tag/student" > "$out/$tag/student.log" 2>&1
  # Pruning, fine-tuned: magnitude (masks held through the epoch) and structured.
  "$build/examples/slmrec" prune --checkpoint "$out/$tag/teacher" --method magnitude --sparsity 0.5 --scope global \
    --data "$data" --epochs 1 --seed 0 --out "$out/$tag/pruned_magnitude" > "$out/$tag/pruned_magnitude.log" 2>&1
  "$build/examples/slmrec" prune --checkpoint "$out/$tag/teacher" --method structured --sparsity 0.5 \
    --data "$data" --epochs 1 --seed 0 --out "$out/$tag/pruned_structured" > "$out/$tag/pruned_structured.log" 2>&1
  "$build/examples/pipeline" --out "$out/$tag/pipeline" > "$out/$tag/pipeline.log" 2>&1
done
# Every metric, exactly (wall-clock seconds aside); the pipeline's tables without their time column.
/usr/bin/python3 - "$out" <<'PY' || status=1
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def metrics(p):
    drop = lambda j: {k: drop(v) for k, v in j.items() if "second" not in k} if isinstance(j, dict) else j
    return drop(json.loads(p.read_text()))
def table(p):
    return [line.rsplit("|", 2)[0] for line in p.read_text().splitlines()]
bad = 0
for name in ["sasrec", "sasrec_bce", "llama_classifier", "llama_projected", "llama_sampled", "teacher", "student",
             "pruned_magnitude", "pruned_structured"]:
    b, a = (metrics(out / t / name / "test_metrics.json") for t in ("before", "after"))
    same = a == b
    bad += not same
    print("same     " if same else "DIFFERENT", name, json.dumps(a.get("test", a))[:150])
    if not same:
        print("  before:", json.dumps(b)[:400], "\n  after: ", json.dumps(a)[:400])
b, a = (table(out / t / "pipeline" / "results.md") for t in ("before", "after"))
print("same      pipeline table" if a == b else "DIFFERENT pipeline table")
bad += a != b
sys.exit(1 if bad else 0)
PY
exit $status
