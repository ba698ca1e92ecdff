#!/usr/bin/env bash
# Checks Panamax's quantized formats against llama.cpp, which is not part of the project and not in
# CI (bring your own build: see ../shared/bench/README.md for getting and building it):
#   1. llama.cpp's llama-quantize writes every supported format from F32 GGUFs that Panamax wrote;
#   2. llama.cpp's gguf-py dequantizes every tensor (numpy);
#   3. tools/DequantCheck.java requires Panamax's dequantization to equal it bit for bit;
#      (also on the K-quant, mix and TQ2_0 files Panamax writes);
#   4. tools/QuantizeCheck.java requires Panamax's own Q8_0/Q4_0 quantizer to write the same bytes as
#      llama-quantize.
# Usage: tools/llamacpp-check.sh LLAMA_CPP_DIR        (with build/bin/llama-quantize built)
set -euo pipefail
llama=${1:?usage: tools/llamacpp-check.sh LLAMA_CPP_DIR}
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/find-jdk.sh"
panamax_find_jdk || exit 1
java="$PANAMAX_JAVA_HOME/bin/java"
work=$(mktemp -d)
shared="$root/../shared"
"$root/panamax" convert "$shared/models/kjv-llama" "$work/kjv-f32.gguf" --type f32
"$root/panamax" convert "$shared/fixtures/hf/llama3" "$work/l3-f32.gguf" --type f32
files=()
# kjv-llama's FFN width (688) is not a multiple of 32, so only the K-quants (which fall back per tensor) take it.
for t in Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K TQ1_0 TQ2_0; do
  "$llama/build/bin/llama-quantize" "$work/kjv-f32.gguf" "$work/kjv-$t.gguf" "$t" > /dev/null 2>&1
  files+=("$work/kjv-$t.gguf")
done
for t in Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL; do
  "$llama/build/bin/llama-quantize" "$work/l3-f32.gguf" "$work/l3-$t.gguf" "$t" > /dev/null 2>&1
  files+=("$work/l3-$t.gguf")
done
# Panamax's own K-quant, mix and ternary files: llama.cpp's reader must see the same values.
for t in q4_k_m q5_k_m q6_k tq2_0; do
  "$root/panamax" quantize "$work/kjv-f32.gguf" "$work/kjv-panamax-$t.gguf" --type "$t" 2>/dev/null
  files+=("$work/kjv-panamax-$t.gguf")
done
for f in "${files[@]}"; do
  LLAMA_GGUF_PY="$llama/gguf-py" python3 "$root/tools/gguf_py_dequantize.py" "$f" "$work/$(basename "$f" .gguf).txt"
done
"$java" --add-modules jdk.incubator.vector -cp "$root/cli/target/panamax.jar" "$root/tools/DequantCheck.java" "$work" "${files[@]}" 2>/dev/null
for t in q8_0 q4_0; do
  "$root/panamax" convert "$shared/fixtures/hf/llama3" "$work/ours-$t.gguf" --type "$t"
  T=$(echo "$t" | tr a-z A-Z)
  "$java" --add-modules jdk.incubator.vector -cp "$root/cli/target/panamax.jar" "$root/tools/QuantizeCheck.java" "$work/ours-$t.gguf" "$work/l3-$T.gguf" 2>/dev/null
done
rm -rf "$work"
