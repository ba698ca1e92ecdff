#!/usr/bin/env bash
# Parses cuda-ffm's kernels.cu with the host C++ compiler (g++ -fsyntax-only, every template the
# kernels instantiate included), CUDA's device names stubbed by tools/cuda-stub.h and the inline PTX
# left out: catches a typo or a type error in the kernels on a machine without a GPU (CI), where
# NVRTC would only meet it at run time. Not a substitute for the GPU tests (tools/gpu.sh).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
src="$root/cuda-ffm/src/main/resources/dev/panamax/cuda/kernels.cu"
cxx=${CXX:-g++}
command -v "$cxx" >/dev/null || { echo "cuda-syntax-check: no $cxx here (apt-get install g++): skipped" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e 's/asm volatile(\(.*\));/;/' -e 's/asm(\(.*\));/;/' "$src" > "$tmp/kernels.cpp"
"$cxx" -std=c++17 -fsyntax-only -Wno-unknown-pragmas -include "$root/tools/cuda-stub.h" -x c++ "$tmp/kernels.cpp"
echo "cuda-syntax-check: kernels.cu parses" >&2
