#!/usr/bin/env bash
# Prefill and decode speed of Panamax and llama.cpp's llama-bench on the same GGUF files, in the same
# run: the two programs alternate for ROUNDS rounds and each figure is the best of its rounds (this
# machine is shared; a neighbour's load comes and goes within minutes, and best-of keeps both sides
# to their quiet moments). llama.cpp is not part of the project and not in CI: bring a build
# (../shared/bench/README.md says how; it also makes the random-weight files).
#   tools/llamacpp-bench.sh LLAMA_CPP_DIR [--rounds N] [--threads "1 2"] [--prompt P] [--tokens N] FILE.gguf...
# Prints one Markdown row per file and thread count: llama.cpp's and Panamax's tokens/s and the ratio
# Panamax / llama.cpp. Panamax: `panamax bench FILE --threads T --prompt-tokens P --tokens N
# --repeats 3` (median of 3 after a warm-up); llama.cpp: `llama-bench -t T -p P -n N -r 3` (mean of 3).
set -euo pipefail
llama=${1:?usage: tools/llamacpp-bench.sh LLAMA_CPP_DIR [--rounds N] [--threads \"1 2\"] [--prompt P] [--tokens N] FILE...}
shift
rounds=3 threads="1 2" prompt=64 tokens=32
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "no GGUF files given" >&2; exit 2; }
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bench="$llama/build/bin/llama-bench"
[ -x "$bench" ] || { echo "no llama-bench at $bench: build llama.cpp first (../shared/bench/README.md)" >&2; exit 2; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }
echo "| file | threads | llama.cpp pp$prompt / tg$tokens | Panamax pp$prompt / tg$tokens | ratio prefill / decode |"
echo "| --- | --- | --- | --- | --- |"
for f in "$@"; do
  for t in $threads; do
    lp="" lt="" pp="" pt=""
    for _ in $(seq "$rounds"); do
      # llama-bench's CSV: avg_ts is the next-to-last column; the pp row comes first, then tg.
      read -r a b < <("$bench" -m "$f" -t "$t" -p "$prompt" -n "$tokens" -r 3 -o csv 2>/dev/null \
        | awk -F, 'NR > 1 { gsub(/"/, ""); printf "%s ", $(NF-1) } END { print "" }')
      lp=$(max "$lp" "$a"); lt=$(max "$lt" "$b")
      out=$("$root/panamax" bench "$f" --threads "$t" --prompt-tokens "$prompt" --tokens "$tokens" --repeats 3 2>&1)
      a=$(echo "$out" | awk '/^prefill/ { print $(NF-1) }'); b=$(echo "$out" | awk '/^decode/ { print $(NF-1) }')
      [ -n "$a" ] && [ -n "$b" ] || { echo "panamax bench failed on $f:" >&2; echo "$out" >&2; exit 1; }
      pp=$(max "$pp" "$a"); pt=$(max "$pt" "$b")
    done
    awk -v f="$(basename "$f")" -v t="$t" -v lp="$lp" -v lt="$lt" -v pp="$pp" -v pt="$pt" \
      'BEGIN { printf "| %s | %s | %.1f / %.1f | %.1f / %.1f | %.2f / %.2f |\n", f, t, lp, lt, pp, pt, pp / lp, pt / lt }'
  done
done
