#!/usr/bin/env bash
# Greedy text of Panamax and llama.cpp's llama-cli on the same GGUF files, compared token for token
# (as text). llama.cpp is not part of the project and not in CI: bring a build (../shared/bench/README.md).
#   tools/llamacpp-greedy.sh LLAMA_CPP_DIR [TOKENS]
# Files: kjv-llama as F16, and quantized by Panamax to Q8_0, Q4_0, Q6_K, Q5_K_M, Q4_K_M; and by
# llama-quantize to Q8_0 (legacy types need rows of whole blocks, which kjv-llama's FFN width 688 is
# not, so Panamax's own files keep those rows in F32 — llama.cpp multiplies F16 weights by
# activations rounded to F16, which Panamax does not, and that alone parts the texts after ~20 tokens),
# Q6_K and Q4_K_M.
# The KV cache is F32 in both (llama-cli -ctk f32 -ctv f32).
set -euo pipefail
llama=${1:?usage: tools/llamacpp-greedy.sh LLAMA_CPP_DIR [TOKENS]}
n=${2:-48}
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prompt="In the beginning"
"$root/panamax" convert "$root/../shared/models/kjv-llama" "$work/kjv-f32.gguf" --type f32 2>/dev/null
"$root/panamax" convert "$root/../shared/models/kjv-llama" "$work/kjv-F16.gguf" --type f16 2>/dev/null
files=("$work/kjv-F16.gguf")
for t in q8_0 q4_0 q6_k q5_k_m q4_k_m; do
  "$root/panamax" quantize "$work/kjv-f32.gguf" "$work/kjv-panamax-$t.gguf" --type "$t" --fallback f32 2>/dev/null
  files+=("$work/kjv-panamax-$t.gguf")
done
for t in Q6_K Q4_K_M; do
  "$llama/build/bin/llama-quantize" "$work/kjv-f32.gguf" "$work/kjv-llamacpp-$t.gguf" "$t" > /dev/null 2>&1
  files+=("$work/kjv-llamacpp-$t.gguf")
done
status=0
printf '%-26s %s\n' "file" "greedy tokens equal (llama.cpp's text re-tokenized)"
for f in "${files[@]}"; do
  ours=$("$root/panamax" generate "$f" "$prompt" --temperature 0 --max-tokens "$n" --threads 1 --print-ids 2>/dev/null | tail -1)
  theirs=$("$llama/build/bin/llama-cli" -m "$f" -p "$prompt" -n "$n" --temp 0 -no-cnv -t 1 -ctk f32 -ctv f32 2>/dev/null < /dev/null)
  # llama.cpp's text, re-tokenized by Panamax's tokenizer of the same file, against Panamax's ids.
  theirs_ids=$(printf '%s' "${theirs# }" | "$root/panamax" tokenize "$f" --ids 2>/dev/null)
  same=$(python3 - "$ours" "$theirs_ids" <<'PY'
import sys
a = [int(x) for x in sys.argv[1].split(",") if x]
b = [int(x) for x in sys.argv[2].split() if x]
k = 0
while k < min(len(a), len(b)) and a[k] == b[k]: k += 1
p = 5  # BOS and the 4 prompt tokens
print(f"{k - p} of {len(a) - p}" + ("" if k == min(len(a), len(b)) else f" (then id {a[k] if k < len(a) else '-'} vs {b[k] if k < len(b) else '-'})"))
PY
)
  printf '%-26s %s\n' "$(basename "$f" .gguf)" "$same"
done
