#!/usr/bin/env bash
# Issue 29, Beauty seeds 1 and 2 on the CPU: two runs at a time, one thread each, in the
# settings of docs/results.md "Seed 0 on Beauty, every teacher setting to the end":
# (a) 4 layers random init, (d) 2 layers from scratch (tuned: dropout 0.5, wd 0.1, warm-up 500),
# (b) stories260k's first 4 layers fine-tuned, (c) frozen + LoRA r16 (both dropout 0.2, wd 0),
# (e) the 2 <- 4 student of the better of (b)/(c) by validation, and its cross-entropy twin.
# Each run is followed by sampled-999. Resumable: a finished run (test_metrics.json) is skipped,
# a cut one (state.json, no test_metrics.json) continues with --resume.
#   SEEDS="1 2" scripts/issue29_beauty_cpu.sh > queue29.log      (SLMREC: the binary; runs/ beside)
# The (e) pair needs both (b) and (c) of its seed: their best validation NDCG@10 picks the teacher.
cd "$(dirname "$0")/.."
slm=${SLMREC:-$PWD/build/examples/slmrec}
B=../shared/data/s3rec_beauty/Beauty.txt S=../shared/fixtures/stories260k
SHAPE="--arch llama --dim 64 --heads 8 --kv-heads 4 --ffn 172"
TUNED="--dropout 0.5 --weight-decay 0.1 --warmup 500"
LORA="--freeze-backbone --lora-rank 16 --lora-alpha 16 --lora-targets gate,up,down,q,k,v,o"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
run() {  # run NAME ARGS...
  local name=$1; shift
  [ -e runs/$name/test_metrics.json ] && return
  local resume=""; [ -e runs/$name/state.json ] && resume=--resume
  echo "$(date -u +%T) start $name $resume"
  "$slm" "$@" $resume --out runs/$name >> runs/$name.log 2>&1
  "$slm" eval --checkpoint runs/$name --data $B --protocol sampled --negatives 999 --json > runs/$name/sampled999.json 2>&1
  echo "$(date -u +%T) done $name"
}
best_valid() {  # the run with the higher best validation NDCG@10
  python3 - "$@" <<'PY'
import json, sys
best = lambda r: max(json.loads(l)["valid"]["NDCG@10"] for l in open(f"runs/{r}/metrics.jsonl"))
print(max(sys.argv[1:], key=best))
PY
}
seed_chain_1() {  # (a) then (b), then (e) once (c) is done
  local s=$1
  run beauty_a4_s$s train --data $B --seed $s $SHAPE --layers 4 $TUNED
  run beauty_b4d2w0_s$s train --data $B --seed $s --init hf:$S --layers 4 --dropout 0.2 --weight-decay 0
}
seed_chain_2() {
  local s=$1
  run beauty_c4d2w0_s$s train --data $B --seed $s --init hf:$S --layers 4 --dropout 0.2 --weight-decay 0 $LORA
  run beauty_d2_s$s train --data $B --seed $s $SHAPE --layers 2 $TUNED
}
for s in ${SEEDS:-1 2}; do
  seed_chain_1 $s & seed_chain_2 $s & wait
  t=$(best_valid beauty_b4d2w0_s$s beauty_c4d2w0_s$s); tag=${t:7:1}  # b or c
  echo "seed $s teacher $t"
  run beauty_kd2${tag}_s$s distill --teacher runs/$t --data $B --student-layers 2 --blocks 2 --init first --seed $s &
  run beauty_ce2${tag}_s$s distill --teacher runs/$t --data $B --student-layers 2 --blocks 2 --init first --seed $s \
    --lambda-cos 0 --lambda-norm 0 --lambda-ms 0 &
  wait
done
echo "$(date -u +%T) queue done"
