#!/bin/bash
# Issue 22 (docs/scaling.md): the student preset's training step against catalog size, full cross-entropy
# against the sampled softmax, and serving (a batch of 128, one user) at 12k and 1M items. Run it on a quiet
# machine: about 5 minutes on 2 cores, most of it the one full cross-entropy step at 1M items.
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
B=build/benchmarks/bench_presets
for N in 12101 100000 1000000; do
  $B --preset student --what train --items $N --loss sampled --negatives 8192 --reps 5 --warmup 2
  $B --preset student --what train --items $N --loss sampled --negatives 1024 --reps 5 --warmup 2
done
$B --preset student --what train --items 12101 --reps 5 --warmup 2
$B --preset student --what train --items 100000 --reps 3 --warmup 1
$B --preset student --what train --items 1000000 --reps 1 --warmup 0
for N in 12101 1000000; do
  $B --preset student --what infer,latency --items $N --reps 5 --warmup 2
done
