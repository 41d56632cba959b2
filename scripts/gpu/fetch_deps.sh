#!/usr/bin/env bash
# Run on a Debian 12 machine with apt (the development machine): downloads the
# build dependencies the GPU machine lacks (it has CUDA, CMake, ninja, g++ and
# PyTorch, but no Debian -dev packages and no network) into .deps/, which
# h200_check.sh unpacks there. Carry .deps with the run (it is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .deps
cd .deps
apt-get download libeigen3-dev libxtensor-dev xtl-dev libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev catch2
ls -la
