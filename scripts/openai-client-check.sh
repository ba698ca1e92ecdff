#!/usr/bin/env bash
# The official OpenAI Node client (npm `openai`, pinned) against `panamax serve` on a loopback port:
# models, chat (plain and streamed), seeded completions, embeddings, a wrong key, a bad request; then
# SIGTERM, which must end the server with status 0. Needs node and npm (CI installs from the npm
# registry). Run after the jar is built: .ci/run calls it after ./run-tests.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$root/scripts/find-jdk.sh"
panamax_find_jdk || exit 1
say() { echo "openai-client: $*" >&2; }
command -v node >/dev/null && command -v npm >/dev/null || { say "needs node and npm (Debian: apt-get install nodejs npm)"; exit 1; }
work="$root/target/openai-client"
mkdir -p "$work"
cp "$root/serve/src/test/node/openai-client.mjs" "$work/"
if [ ! -d "$work/node_modules/openai" ]; then
  say "npm install openai@4.104.0"
  (cd "$work" && npm install --silent --no-audit --no-fund openai@4.104.0 >/dev/null)
fi
jar="$root/cli/target/panamax.jar"
[ -f "$jar" ] || { say "build the jar first ($jar)"; exit 1; }
log="$work/serve.err"
"$PANAMAX_JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar "$jar" \
  serve --port 0 --api-key sesame 2> "$log" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 120); do
  port=$(sed -n 's|.*serving .* at http://127.0.0.1:\([0-9]*\)/v1.*|\1|p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || { say "the server did not start:"; cat "$log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { say "the server did not say its port:"; cat "$log" >&2; exit 1; }
(cd "$work" && node openai-client.mjs "$port")
kill -TERM $pid
status=0; wait $pid || status=$?
trap - EXIT
[ "$status" = 0 ] || { say "SIGTERM ended the server with status $status, not 0"; cat "$log" >&2; exit 1; }
say "the server stopped on SIGTERM with status 0"
