#!/usr/bin/env bash
# The foundation's speed comparison, peers and Panamax in one run (the machine is shared and noisy,
# so only same-run ratios mean anything):
#   1. STREAM read bandwidth (../shared/bench/stream.c, gcc -O3 -march=native -fopenmp), 1 and 2 threads
#   2. OpenBLAS SGEMM through numpy, n = 1024 and 2048, 1 and 2 threads
#   3. JMH: MatmulBenchmark, MatvecBenchmark and QuantMatvecBenchmark (jmh/target/benchmarks.jar)
# and prints the table that jmh/README.md records.
#   jmh/bench.sh            full run (about 6 minutes)
#   jmh/bench.sh --quick    fewer JMH iterations
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$root/scripts/find-jdk.sh"
panamax_find_jdk || exit 1
out="$root/jmh/results"
mkdir -p "$out"
shared="$root/../shared/bench"

jmh_args=(-wi 3 -i 5 -w 2 -r 2)
[ "${1:-}" = "--quick" ] && jmh_args=(-wi 2 -i 3 -w 1 -r 1)

echo "== building jmh/target/benchmarks.jar" >&2
(cd "$root" && JAVA_HOME="$PANAMAX_JAVA_HOME" MAVEN_OPTS="$(panamax_maven_opts)" mvn -B -q -ntp -DskipTests -pl jmh -am package)

echo "== STREAM" >&2
if [ -f "$shared/stream.c" ] && command -v gcc >/dev/null; then
  gcc -O3 -march=native -ffast-math -fopenmp "$shared/stream.c" -o "$out/stream"
  for t in 1 2; do OMP_NUM_THREADS=$t "$out/stream"; done | tee "$out/stream.txt"
else
  echo "skipped: needs gcc and ../shared/bench/stream.c" | tee "$out/stream.txt"
fi

echo "== OpenBLAS SGEMM (numpy)" >&2
py=$(command -v python3 || true)
if [ -n "$py" ] && "$py" -c 'import numpy' 2>/dev/null; then
  for t in 1 2; do
    # OPENBLAS_CORETYPE/L2_SIZE pin an old kernel on some machines; unset them for the peer figure.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$py" - "$t" <<'PY'
import sys, time, numpy as np
t = sys.argv[1]
for n in (1024, 2048):
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    for _ in range(3): a @ b
    best = min((lambda s: (a @ b, time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(10))
    print(f"sgemm threads={t} n={n} {2 * n**3 / best / 1e9:.1f} GFLOP/s")
PY
  done | tee "$out/sgemm.txt"
else
  echo "skipped: needs python3 with numpy (Debian: apt-get install python3-numpy)" | tee "$out/sgemm.txt"
fi

echo "== JMH" >&2
"$PANAMAX_JAVA_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -jar "$root/jmh/target/benchmarks.jar" 'MatmulBenchmark|MatvecBenchmark|QuantMatvecBenchmark' \
  "${jmh_args[@]}" -rf json -rff "$out/jmh.json" > "$out/jmh.txt"

python3 "$root/jmh/summarize.py" "$out"
