#!/usr/bin/env bash
# Whole-process wall time of `panamax generate` and llama.cpp's `llama-cli` on the same GGUF files, on
# this machine, interleaved (issue 27: what a user meets — JVM start, load and the first tokens included).
#
#   tools/llamacpp-wall.sh LLAMA_CPP_BIN_DIR FILE.gguf... [--rounds R (3)] [--tokens N (32)] [--threads T (2)] [--prompt TEXT (Hello)]
#
# Each round runs `./panamax generate FILE PROMPT --max-tokens N --temperature 0 --threads T` (the launcher,
# with its start-up class archive) and `llama-cli -m FILE -p PROMPT -n N --temp 0 -t T -no-cnv`, one after the other,
# and prints the median of the rounds per program, the ratio Panamax / llama-cli (lower is better for
# Panamax), and Panamax's own stderr line of the median round (load, prompt, generated tokens/s).
# Not part of CI: it needs a llama.cpp build (../shared/bench/README.md says how to make one).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bin=${1:?usage: tools/llamacpp-wall.sh LLAMA_CPP_BIN_DIR FILE.gguf... [--rounds R] [--tokens N] [--threads T] [--prompt TEXT]}
shift
[ -x "$bin/llama-cli" ] || { echo "no llama-cli in $bin (build llama.cpp: ../shared/bench/README.md)" >&2; exit 1; }
rounds=3 tokens=32 threads=2 prompt=Hello files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "no GGUF files given" >&2; exit 2; }
now() { date +%s.%N; }
median() { python3 -c "import sys, statistics; print('%.2f' % statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/panamax" generate "${files[0]}" "$prompt" --max-tokens 1 --threads "$threads" >/dev/null 2>&1 || true # the launcher's first-build cache, not timed
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) ($(nproc) cores seen); $rounds rounds, $tokens tokens, $threads threads, prompt \"$prompt\""
echo
echo "| file | Panamax s | llama-cli s | ratio | Panamax's line (median round) |"
echo "| --- | --- | --- | --- | --- |"
for f in "${files[@]}"; do
  ours=() theirs=()
  for r in $(seq "$rounds"); do
    s=$(now); "$root/panamax" generate "$f" "$prompt" --max-tokens "$tokens" --temperature 0 --threads "$threads" >/dev/null 2>"$tmp/p$r"; e=$(now)
    ours+=("$(python3 -c "print($e - $s)")")
    s=$(now); LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$bin/llama-cli" -m "$f" -p "$prompt" -n "$tokens" --temp 0 -t "$threads" -no-cnv \
      >/dev/null 2>"$tmp/l$r" </dev/null || { echo "llama-cli failed on $f:" >&2; tail -5 "$tmp/l$r" >&2; exit 1; }
    e=$(now)
    theirs+=("$(python3 -c "print($e - $s)")")
  done
  mo=$(median "${ours[@]}") ml=$(median "${theirs[@]}")
  # Panamax's stderr of the round nearest its median.
  best=1 d=1e9
  for r in $(seq "$rounds"); do
    x=$(python3 -c "print(abs(${ours[$((r - 1))]} - $mo))")
    if python3 -c "import sys; sys.exit(0 if $x < $d else 1)"; then best=$r d=$x; fi
  done
  line=$(grep -E '^panamax: (loaded|prompt)' "$tmp/p$best" | sed 's/^panamax: //' | tr '\n' ';' | sed 's/;$//')
  echo "| $(basename "$f") | $mo | $ml | $(python3 -c "print('%.1f×' % ($mo / max($ml, 1e-9)))") | $line |"
done
