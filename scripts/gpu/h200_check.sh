#!/usr/bin/env bash
# The one GPU check, for the H200 machine (issues 7 and 24): run the GPU parity
# tests (every op, a training step, a distillation step, pruned and int8 models
# and the tiny_llama fixture, CPU against GPU, over cuda and cuda-bf16), measure
# the card's matrix-product peaks, then time bench_presets and
# ../shared/bench/torch_reference.py side by side on the reference rows. The
# table comes last; everything also goes to $OUT.
#
# Device time is short, so the binaries are best built here and carried:
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLMREC_WITH_CUDA=ON -DSLMREC_TEST_AREAS=cuda \
#     -DSLMREC_NATIVE=OFF -DSLMREC_BUILD_EXAMPLES=OFF -DSLMREC_SHARED_DIR=shared
#   cmake --build build-gpu --target test_cuda bench_presets
#   scripts/gpu/stage.sh                        # .gpu/: the binaries and the libraries the H200 lacks; shared/: fixtures
#   run (carry .gpu shared):  BIN=.gpu SHARED=shared scripts/gpu/h200_check.sh
# Without BIN (or if its binaries miss a library there) it builds there, from the
# -dev packages that scripts/gpu/fetch_deps.sh put in .deps/ (carry .deps).
#
# Environment: OUT (output folder, default /tmp/h200), SHARED (default ../shared),
# ROWS (compare_torch_gpu.py --rows, default all), ROUNDS (default 2; torch.compile
# recompiles in every round, about a minute per row), STEPS (default 20),
# COMPILE=0 to skip torch.compile, TIMING=0 to run the parity tests alone,
# PARITY_TIMEOUT (seconds, default 300).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/h200}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; lscpu | grep 'Model name'; nproc; } 2>&1 | tee "$OUT/machine.txt"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}

test_cuda="" bench=""
if [ -n "${BIN:-}" ]; then
  export LD_LIBRARY_PATH=$PWD/$BIN/lib:$LD_LIBRARY_PATH
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do  # else the copies PyTorch's wheels bring
    if ldd "$BIN/test_cuda" | grep -q "$lib => not found"; then
      found=$(find /usr /opt -name "$lib" 2>/dev/null | head -1)
      [ -n "$found" ] && export LD_LIBRARY_PATH=$(dirname "$found"):$LD_LIBRARY_PATH
    fi
  done
  if ldd "$BIN/test_cuda" "$BIN/bench_presets" | grep 'not found'; then
    echo "the carried binaries miss the libraries above: building here"
  else
    test_cuda=$BIN/test_cuda bench=$BIN/bench_presets
  fi
fi
if [ -z "$test_cuda" ]; then
  PREFIX=""
  if compgen -G ".deps/*.deb" > /dev/null; then  # the -dev packages, unpacked into a prefix
    mkdir -p /tmp/slmrec-deps
    for f in .deps/*.deb; do
      if command -v dpkg-deb > /dev/null; then dpkg-deb -x "$f" /tmp/slmrec-deps
      else ar p "$f" data.tar.xz | tar -xJ -C /tmp/slmrec-deps; fi  # Debian 12 packages: xz data
    done
    PREFIX=/tmp/slmrec-deps/usr
    export LD_LIBRARY_PATH=$PREFIX/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH
  fi
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLMREC_WITH_CUDA=ON -DSLMREC_TEST_AREAS=cuda \
    -DSLMREC_BUILD_EXAMPLES=OFF -DSLMREC_SHARED_DIR="$SHARED" ${PREFIX:+-DCMAKE_PREFIX_PATH=$PREFIX} \
    2>&1 | tail -5 | tee "$OUT/configure.log"
  cmake --build build-gpu -j "$(nproc)" --target test_cuda bench_presets 2>&1 | tail -20 | tee "$OUT/build.log"
  test_cuda=build-gpu/tests/cuda/test_cuda bench=build-gpu/benchmarks/bench_presets
fi

echo "== GPU parity tests"
timeout -k 10 "${PARITY_TIMEOUT:-300}" "$test_cuda" "~[no-device]" --order rand --rng-seed 20261129 --durations yes \
  > "$OUT/parity.log" 2>&1
parity=$?
grep -v '^[0-9.]* s: ' "$OUT/parity.log" | tail -25
if [ "${TIMING:-1}" = 0 ]; then
  echo "parity tests exit status: $parity (0 = all passed)"
  exit "$parity"
fi

echo "== the card's matrix-product peaks (PyTorch, 8192^3, mean of 10 after 3 warm-ups)"
python3 - <<'EOF' 2>&1 | tee "$OUT/peaks.txt"
import torch
torch.backends.cuda.matmul.allow_tf32 = False
n = 8192
for dt in (torch.float32, torch.bfloat16):
    a = torch.randn(n, n, device="cuda", dtype=dt); b = torch.randn(n, n, device="cuda", dtype=dt)
    for _ in range(3): a @ b
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize(); s.record()
    for _ in range(10): a @ b
    e.record(); torch.cuda.synchronize()
    print(f"{dt}: {2 * n**3 * 10 / (s.elapsed_time(e) * 1e-3) / 1e12:.1f} TFLOP/s")
EOF

echo "== timing (slmrec vs PyTorch, side by side)"
args=(--bench "$bench" --torch "$SHARED/bench/torch_reference.py" --python python3 --rows "${ROWS:-all}"
      --rounds "${ROUNDS:-2}" --steps "${STEPS:-20}" --timeout 150 --json "$OUT/gpu_records.jsonl")
[ "${COMPILE:-1}" = 0 ] && args+=(--no-compile)
python3 benchmarks/compare_torch_gpu.py "${args[@]}" 2> "$OUT/timing.log" | tee "$OUT/table.md"
echo "parity tests exit status: $parity (0 = all passed)"
