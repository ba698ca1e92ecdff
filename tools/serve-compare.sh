#!/usr/bin/env bash
# panamax serve against llama.cpp's llama-server under the same load, on the same GGUF file, in the
# same run: each server in turn is started with N parallel slots and 2 threads, driven by
# tools/ServeLoad.java (1, 4, 16 and 64 concurrent streaming completions, greedy unless --temperature), and stopped.
# llama.cpp is not part of the project: bring a build with the llama-server target
# (../shared/bench/README.md).
#   tools/serve-compare.sh LLAMA_CPP_DIR FILE.gguf [--parallel 16] [--threads 2] [--streams 1,4,16,64]
#                          [--tokens 32] [--requests 1] [--rounds 1] [--temperature 0]
# Prints ServeLoad's Markdown rows, llama-server's then Panamax's, for each round.
set -euo pipefail
llama=${1:?usage: tools/serve-compare.sh LLAMA_CPP_DIR FILE.gguf [options]}
file=${2:?usage: tools/serve-compare.sh LLAMA_CPP_DIR FILE.gguf [options]}
shift 2
parallel=16 threads=2 streams=1,4,16,64 tokens=32 requests=1 rounds=1 temperature=0
while [ $# -gt 0 ]; do
  case "$1" in
    --parallel) parallel=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --streams) streams=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --temperature) temperature=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
server="$llama/build/bin/llama-server"
[ -x "$server" ] || { echo "no llama-server at $server: build llama.cpp with its llama-server target first (../shared/bench/README.md)" >&2; exit 2; }
. "$root/scripts/find-jdk.sh"
panamax_find_jdk || exit 1
java="$PANAMAX_JAVA_HOME/bin/java"
port=18080 # llama-server here, panamax on the next port (a port just closed can linger)
# Each slot gets 1024 positions of context in both servers (llama-server divides -c among its slots).
ctx=$((parallel * 1024))

wait_up() {
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the server did not come up on port $port (logs: /tmp/serve-compare-*.log)" >&2
  return 1
}

load() {
  "$java" "$root/tools/ServeLoad.java" --url "http://127.0.0.1:$port" --label "$1" --streams "$streams" --tokens "$tokens" \
    --requests "$requests" --temperature "$temperature" --completions | tail -n +3
}

echo "file: $(basename "$file"), $threads threads, $parallel slots, $tokens tokens a request, $requests request(s) per stream, temperature $temperature"
echo "| server | streams | requests | tokens | wall s | tokens/s | TTFT p50 / p99 ms | ITL p50 / p99 ms | failed |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for _ in $(seq 1 "$rounds"); do
  "$server" -m "$file" --port $port -t "$threads" --parallel "$parallel" -c "$ctx" --log-disable > /tmp/serve-compare-llama.log 2>&1 &
  pid=$!
  wait_up && load llama-server
  kill $pid; wait $pid 2> /dev/null || true

  port=$((port + 1))
  "$root/panamax" serve "$file" --port $port --threads "$threads" --parallel "$parallel" --queue 256 > /tmp/serve-compare-panamax.log 2>&1 &
  pid=$!
  wait_up && load panamax
  kill $pid; wait $pid 2> /dev/null || true
  port=$((port - 1))
done
