#!/usr/bin/env bash
# Registers, spills and stack of each kernel in cuda-ffm's kernels.cu as ptxas builds it for sm_SM,
# on a machine without a GPU: NVRTC alone compiles it (dev.panamax.cuda.KernelResources).
#
#   tools/cuda-resources.sh [SM (90)] [KERNEL_REGEX]
#
# NVRTC comes from CUDA_HOME/LD_LIBRARY_PATH when there is one; otherwise from Maven Central's
# org.bytedeco:cuda-redist (NVIDIA's redistributable libraries, ~380 MB once, kept in
# ~/.cache/panamax/nvrtc, never in the repository).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/find-jdk.sh
panamax_find_jdk || exit 1
export JAVA_HOME=$PANAMAX_JAVA_HOME
if ! ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/libnvrtc.so* >/dev/null 2>&1; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/panamax/nvrtc
  if [ ! -f "$cache/libnvrtc.so.13" ]; then
    mkdir -p "$cache"
    echo "fetching NVRTC (org.bytedeco:cuda-redist, ~380 MB) into $cache ..." >&2
    mvn -B -q dependency:copy -Dartifact=org.bytedeco:cuda-redist:13.1-9.19-1.5.13:jar:linux-x86_64 -DoutputDirectory="$cache/tmp"
    unzip -o -q -j "$cache"/tmp/cuda-redist-*.jar 'org/bytedeco/cuda/linux-x86_64/libnvrtc*' -d "$cache"
    rm -rf "$cache/tmp"
  fi
  export LD_LIBRARY_PATH="$cache${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
mvn -B -q -o -DskipTests install -pl simd,quant,runtime,models,cuda-ffm 2>/dev/null || mvn -B -q -DskipTests install -pl simd,quant,runtime,models,cuda-ffm
mvn -B -q -pl cuda-ffm test-compile
cp="cuda-ffm/target/classes:cuda-ffm/target/test-classes:runtime/target/classes:simd/target/classes:quant/target/classes:models/target/classes"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" dev.panamax.cuda.KernelResources "$@"
