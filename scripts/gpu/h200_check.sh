#!/usr/bin/env bash
# The one GPU check, for the H200 machine (issue 7): build the CUDA targets,
# run the GPU parity tests (every op, a training step, a distillation step and
# the tiny_llama fixture, CPU against GPU, over cuda and cuda-bf16), then time
# bench_presets and ../shared/bench/torch_reference.py side by side on the
# reference rows. The table comes last; everything also goes to $OUT.
#
#   scripts/gpu/fetch_deps.sh                      # here, once: the -dev packages into .deps/
#   run (carry .deps):  scripts/gpu/h200_check.sh  # there
#
# Environment: OUT (output folder, default /tmp/h200), SHARED (default ../shared),
# ROUNDS (default 2; torch.compile recompiles in every round, about a minute per row), STEPS (default 20), COMPILE=0 to skip torch.compile.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/h200}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"

# Dependencies carried as Debian packages, unpacked into a prefix.
PREFIX=""
if compgen -G ".deps/*.deb" > /dev/null; then
  mkdir -p /tmp/slmrec-deps
  for f in .deps/*.deb; do
    if command -v dpkg-deb > /dev/null; then dpkg-deb -x "$f" /tmp/slmrec-deps
    else ar p "$f" data.tar.xz | tar -xJ -C /tmp/slmrec-deps; fi  # Debian 12 packages: xz data
  done
  PREFIX=/tmp/slmrec-deps/usr
  export LD_LIBRARY_PATH=$PREFIX/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
fi

set -e
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLMREC_WITH_CUDA=ON -DSLMREC_TEST_AREAS=cuda \
  -DSLMREC_BUILD_EXAMPLES=OFF -DSLMREC_SHARED_DIR="$SHARED" ${PREFIX:+-DCMAKE_PREFIX_PATH=$PREFIX} \
  2>&1 | tail -5 | tee "$OUT/configure.log"
cmake --build build-gpu -j "$(nproc)" --target test_cuda bench_presets 2>&1 | tail -20 | tee "$OUT/build.log"
set +e

echo "== GPU parity tests"
build-gpu/tests/cuda/test_cuda "~[no-device]" --order rand --rng-seed 20261129 2>&1 | tee "$OUT/parity.log" | tail -25
parity=${PIPESTATUS[0]}

echo "== timing (slmrec vs PyTorch, side by side)"
args=(--bench build-gpu/benchmarks/bench_presets --torch "$SHARED/bench/torch_reference.py" --python python3
      --rounds "${ROUNDS:-2}" --steps "${STEPS:-20}" --json "$OUT/gpu_records.jsonl")
[ "${COMPILE:-1}" = 0 ] && args+=(--no-compile)
python3 benchmarks/compare_torch_gpu.py "${args[@]}" 2> "$OUT/timing.log" | tee "$OUT/table.md"
echo "parity tests exit status: $parity (0 = all passed)"
