#!/usr/bin/env bash
# Here, after building build-gpu (see h200_check.sh): copies test_cuda and
# bench_presets into .gpu/ with the shared libraries the H200's image may lack
# (everything they load from this machine's system folders but the C and C++
# runtimes, which that newer image has), and the fixtures and bench files the
# check reads into shared/ (the ../shared beside the checkout does not travel).
# Both folders are for the device tool's carry (.gitignore keeps them out of git).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu && mkdir -p .gpu/lib
cp build-gpu/tests/cuda/test_cuda build-gpu/benchmarks/bench_presets .gpu/
ldd .gpu/test_cuda .gpu/bench_presets | awk '$3 ~ /^\/(usr\/)?lib/ {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  xargs -r -I{} cp -L {} .gpu/lib/
mkdir -p shared/fixtures shared/bench
cp -r ../shared/fixtures/tiny_llama shared/fixtures/
cp ../shared/bench/presets.json ../shared/bench/torch_reference.py shared/bench/
du -sh .gpu shared
ls .gpu/lib
