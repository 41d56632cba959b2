#!/usr/bin/env bash
# Issue 6's quality study: for each distilled student (and its teacher), the
# student quantized to int8, int4 and bf16, and pruned (structured: half of
# every layer's feed-forward channels; structured_heads: that and half of
# the attention heads; magnitude: half of the decoder weights) then
# fine-tuned by distillation against its teacher; all evaluated under full
# ranking on the test split. Prints one table, per seed and the mean.
#   scripts/compression_study.sh DATA SLMREC OUT STUDENT_DIR:TEACHER_DIR [...]
# Runs already done (their test metrics exist) are skipped, so the script resumes.
# METHODS="structured" limits the pruning runs to one method (default: all three).
set -euo pipefail
DATA=$1 SLMREC=$2 OUT=$3
shift 3
mkdir -p "$OUT"
# Fine-tuning stops after FT_PATIENCE epochs without a better validation NDCG@10
# (it starts from a trained student, so it converges in a few epochs).
FT_PATIENCE=${FT_PATIENCE:-5}
for pair in "$@"; do
  student=${pair%%:*}
  s=$(basename "$student")
  for scheme in int8 int4 bf16; do
    q="$OUT/${s}_$scheme"
    [ -f "$q/test.json" ] && continue
    "$SLMREC" quantize --checkpoint "$student" --scheme $scheme --out "$q"
    "$SLMREC" eval --checkpoint "$q" --data "$DATA" --json | tail -n 1 > "$q/test.json"
  done
done
for method in ${METHODS:-structured structured_heads magnitude}; do
  case $method in
    structured) args=(--method structured --sparsity 0.5) name=structured50 ;;
    structured_heads) args=(--method structured --sparsity 0.5 --heads 0.5) name=structured50h50 ;;
    magnitude) args=(--method magnitude --sparsity 0.5) name=magnitude50 ;;
    *) echo "compression_study.sh: unknown method $method" >&2; exit 2 ;;
  esac
  for pair in "$@"; do
    student=${pair%%:*} teacher=${pair#*:}
    p="$OUT/$(basename "$student")_${name}"
    [ -f "$p/test_metrics.json" ] && continue
    "$SLMREC" prune --checkpoint "$student" "${args[@]}" --out "${p}_raw"
    "$SLMREC" eval --checkpoint "${p}_raw" --data "$DATA" --json | tail -n 1 > "${p}_raw/test.json"
    "$SLMREC" prune --checkpoint "$student" "${args[@]}" --data "$DATA" --teacher "$teacher" \
      --seed 0 --patience "$FT_PATIENCE" --out "$p" > "$p.log"
  done
done

python3 - "$OUT" "$@" <<'PY'
import json, os, statistics, sys
out, pairs = sys.argv[1], sys.argv[2:]
def metric(path):
    return json.load(open(path))["NDCG@10"]
rows = {}
for pair in pairs:
    student = pair.split(":")[0]
    s = os.path.basename(student)
    r = {"fp32": metric(f"{student}/test_metrics.json")}
    for scheme in ("int8", "int4", "bf16"):
        r[scheme] = metric(f"{out}/{s}_{scheme}/test.json")
    for m in ("structured50", "structured50h50", "magnitude50"):
        if os.path.exists(f"{out}/{s}_{m}_raw/test.json"):
            r[m + " (no fine-tuning)"] = metric(f"{out}/{s}_{m}_raw/test.json")
        if os.path.exists(f"{out}/{s}_{m}/test_metrics.json"):
            r[m + " + distillation"] = metric(f"{out}/{s}_{m}/test_metrics.json")
    rows[s] = r
names = [n for n in next(iter(rows.values())) if all(n in r for r in rows.values())]
print("| variant | " + " | ".join(rows) + " | mean | vs fp32 |")
print("|---|" + "---|" * (len(rows) + 2))
base = statistics.mean(r["fp32"] for r in rows.values())
for n in names:
    vals = [r[n] for r in rows.values()]
    m = statistics.mean(vals)
    print(f"| {n} | " + " | ".join(f"{v:.4f}" for v in vals) + f" | {m:.4f} | {100 * (m / base - 1):+.2f}% |")
PY
