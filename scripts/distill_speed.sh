#!/usr/bin/env bash
# Issue 4's speed criteria, measured side by side in one run:
#  * a distillation epoch (after the first, with the teacher's block states
#    cached) against a student-alone epoch with the same student, data and
#    batches: with lambda_ms = 0 and with multi-supervision on;
#  * the cost of teacher and student side by side: parameters, training time
#    per epoch, inference time per 1,000 users (bench_quant_model, fp32, batches
#    of 128 Beauty histories, and one user at a time).
# The teacher is trained for one epoch only: its quality does not matter
# here, its depth and width do.
#   scripts/distill_speed.sh [DATA] [BUILD_DIR] [WORK_DIR]
set -euo pipefail
DATA=${1:-../shared/data/s3rec_beauty/Beauty.txt}
BUILD=${2:-build}
WORK=${3:-$(mktemp -d)}
mkdir -p "$WORK"
SLMREC=$BUILD/examples/slmrec
EPOCHS=4
COMMON=(--data "$DATA" --dim 64 --heads 2 --dropout 0.2 --seed 0 --patience 100)
echo "# data $DATA, OMP_NUM_THREADS=${OMP_NUM_THREADS:-(unset)}, work dir $WORK"

"$SLMREC" train "${COMMON[@]}" --arch llama --layers 8 --epochs 1 --out "$WORK/teacher" > "$WORK/teacher.log"
"$SLMREC" train "${COMMON[@]}" --arch llama --layers 2 --epochs $EPOCHS --out "$WORK/student" > "$WORK/student.log"
"$SLMREC" distill --teacher "$WORK/teacher" --data "$DATA" --student-layers 2 --blocks 2 --lambda-ms 0 \
  --epochs $EPOCHS --seed 0 --patience 100 --out "$WORK/distill_ms0" > "$WORK/distill_ms0.log"
"$SLMREC" distill --teacher "$WORK/teacher" --data "$DATA" --student-layers 2 --blocks 2 --lambda-ms 1 \
  --epochs $EPOCHS --seed 0 --patience 100 --out "$WORK/distill_ms1" > "$WORK/distill_ms1.log"

python3 - "$WORK" <<'EOF'
import json, statistics, sys
work = sys.argv[1]
def epochs(run):
    return [json.loads(l)["train_seconds"] for l in open(f"{work}/{run}/metrics.jsonl")]
alone = epochs("student")
print(f"| run | epoch 1 s | later epochs s (median) | ratio to student alone |")
print(f"|---|---|---|---|")
base = statistics.median(alone[1:])
for run, label in (("student", "student alone (CE)"), ("distill_ms0", "distill, lambda_ms = 0"),
                   ("distill_ms1", "distill, lambda_ms = 1")):
    e = epochs(run)
    later = statistics.median(e[1:])
    print(f"| {label} | {e[0]:.1f} | {later:.1f} | {later / base:.2f} |")
EOF

# Cost, teacher and student side by side (inference alternated in rounds by bench_quant_model).
for m in teacher student; do
  "$BUILD/benchmarks/bench_quant_model" --checkpoint "$WORK/$m" --data "$DATA" --schemes fp32 --rounds 5 \
    | grep '^{' > "$WORK/$m.infer.jsonl"
done
python3 - "$WORK" <<'EOF'
import json, statistics, sys
work = sys.argv[1]
print()
print("| model | parameters | training s / epoch | inference ms / 1,000 users (batches of 128) | one user ms |")
print("|---|---|---|---|---|")
for run, label in (("teacher", "teacher, llama 8 layers"), ("student", "student, llama 2 layers")):
    params = json.load(open(f"{work}/{run}/test_metrics.json"))["parameters"]
    epochs = [json.loads(l)["train_seconds"] for l in open(f"{work}/{run}/metrics.jsonl")]
    r = [json.loads(l) for l in open(f"{work}/{run}.infer.jsonl")][0]
    batch = statistics.median(r["batch_ms"]) * 1000 / r["batch"]
    one = statistics.median(r["one_user_ms"])
    print(f"| {label} | {params:,} | {statistics.median(epochs):.1f} | {batch:.1f} | {one:.3f} |")
EOF
