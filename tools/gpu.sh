#!/usr/bin/env bash
# The GPU test suite and benchmarks in one call, on a machine with an NVIDIA GPU and CUDA but no
# Java and no network (the workplace's `device` tool; see docs/cuda.md).
#
#   tools/gpu.sh pack                 here: builds the jars and fills .gpu/ (git-ignored): a jlinked
#                                     JDK 25 (stripped, xz; java.logging for JUnit), the module jars and test classes, the
#                                     JUnit console, the fixtures the GPU tests read, the tools
#   tools/gpu.sh run [tests|bench|all] [--big]   (GPU_TEST_METHODS=REGEX: only the test methods whose names match)
#                                     there (with .gpu carried): unpacks the JDK to /tmp, runs the
#                                     cuda-ffm tests (every GPU kernel against its CPU twin, every
#                                     fixture of ../shared/fixtures/hf and kjv-llama against transformers, device
#                                     memory returned on close) and the benchmarks, and prints a table.
#                                     --big adds the TinyLlama-1.1B-shape files (a few minutes more).
#   tools/gpu.sh pack-llamacpp DIR    here: llama.cpp's source (from a git dir, e.g. a fetched mirror) into .llama/src.txz
#   tools/gpu.sh run compare [--big [build-only]]  there (carrying .gpu/jdk.txz, .gpu/lib.txz, .gpu/tools and .llama: all of
#                                     .gpu would pass the 64 MiB limit): builds llama-bench with CUDA (~2.5 min) and measures
#                                     Panamax and llama.cpp on the same files: pp512 and tg128 side by side
#                                     (COMPARE_FILES: some of the files, e.g. "tinyllama-Q8_0 tinyllama-Q4_0")
#   tools/gpu.sh run batch [--big]    there: only the batched-decode table of `bench` (B = 1, 4, 16, 64 sequences a step)
#   tools/gpu.sh run vision           there: a ViT-B/16-shaped model's images/s on the GPU (F32, Q8_0, F16; one at a time and 16
#                                     a pass) and on the host's CPU
#   tools/gpu.sh run vision-f16       there: the GPU's F32 and F16 ViT-B/16 and transformers' fp32/fp16, one call
#   tools/gpu.sh run vision-peer      there: transformers' eager ViT-B/16 (fp32, fp16, batch 1) on the GPU, if installed
#   tools/gpu.sh run firstrun         there: a fresh installation's first generate --device cuda and a later one, with
#                                     kernels.cu built in parts (default) and as one program (issue 28's first-run time)
#   tools/gpu.sh run serve [--big]   there: panamax serve --device cuda on kjv-llama, checked by tools/serve-check.py
#                                     (SERVE_FILES: random-weight SmolLM/TinyLlama shapes with kjv-llama's tokenizer, e.g.
#                                     "tinyllama-kjv-Q8_0 tinyllama-kjv-F16"; SERVE_PASSES, SERVE_TOKENS)
#   tools/gpu.sh run load [--big]    there: a later run's whole generate --device cuda, weights staged against
#                                     synchronous copies, three rounds (with .gpu/libasyncProfiler.so: a wall profile into $OUT)
#   tools/gpu.sh run intdot [--big]  there: Q8_0/Q4_0 tg128 with integer dot products (dp4a) against float products, alternating
#   tools/gpu.sh run mma [--big]     there: Q8_0/Q4_0 decode of 1 and 16 sequences, the tensor-core matvecs against the dp4a
#                                     ones, alternating (MMA_FILES, MMA_ROUNDS)
#   tools/gpu.sh run ab [--big]      there: decode tok/s of 1 and 16 sequences under JVM option sets, alternating (AB_OPTS:
#                                     sets split by '|', default rowLoop 0 against 2; AB_FILES, AB_BATCH, AB_ROUNDS, AB_PROMPT)
#   tools/gpu.sh run mmaprompt [--big]  there: short prompts' prefill, quantized matrices by the tensor-core matvec
#                                     against dequantized + GEMM (MMA_FILES, PROMPT_SIZES)
#   tools/gpu.sh run longctx          there: TinyLlama-shape decode after 512 and after 4096 prompt tokens (F32 and F16 KV cache)
#   tools/gpu.sh run startup          there, on the host's CPU: kjv-llama's whole generate with the start-up twins against without
#   tools/gpu.sh run prompt-attention there: pp512 and decode after it, the tiled prompt attention against the split one
#   tools/gpu.sh run startup-quant    there, on the host's CPU: the same for TinyLlama-shape Q8_0 and Q4_0 (quantized twins)
#                                     (texts alone = texts together; tokens/s of 1 and 16 at once); part of `all`
#   tools/gpu.sh run matvec [TYPE [RxB,...]]  there: GB/s of the decode matvec on TinyLlama's shapes per
#                                     configuration (rows per block x loads per batch), F16 or Q8_0
#   tools/gpu.sh run matvec-ncu TYPE RxB SHAPE   there: Nsight Compute's sections for one of those launches
#   tools/gpu.sh run skip [--big]    there: decode tok/s with each kind of launch left out of the graph (qkv, attn, o,
#                                     gateup, down, head; wrong logits), so what each costs in the graph (SKIP_FILES, SKIP_ROUNDS,
#                                     SKIP_OPTS: JVM options for every run)
#   tools/gpu.sh run sampled [--big] there: generate --device cuda, 512 tokens sampled at the defaults against greedy
#                                     (SAMPLED_FILES)
#   tools/gpu.sh run timing [--big]   there: wall vs GPU time of a decode step (graph replays; TIMING_FILES, default smol135-F16)
#   tools/gpu.sh run profile [--big [prefill]]  there: Nsight Compute's time per decode kernel (smol135,
#                                     or TinyLlama), or per kernel of a 512-token TinyLlama prompt (PROFILE_FILE: one of
#                                     make_files' files instead, e.g. tinyllama-Q8_0 with --big; PROFILE_BATCH=B: bench --batch B,
#                                     then raise PROFILE_SKIP past the B prompts; PROFILE_KERNELS: a kernel-name regex)
#   tools/gpu.sh run kernel NAME [--big]  there: Nsight Compute's sections and stall reasons for one decode
#                                     launch of kernel NAME (PROFILE_PROMPT=N: after an N-token prompt;
#                                     PROFILE_BATCH=B: of a batched step of B sequences)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$root"
gpu=.gpu

pack() {
  . scripts/find-jdk.sh
  panamax_find_jdk || exit 1
  export JAVA_HOME=$PANAMAX_JAVA_HOME
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  mvn -B -q -DskipTests install
  mvn -B -q -pl cuda-ffm test-compile
  mkdir -p $gpu/lib $gpu/tools $gpu/shared/fixtures/hf $gpu/shared/models
  if [ ! -f $gpu/jdk.txz ] || [ "$JAVA_HOME/release" -nt $gpu/jdk.txz ] || ! tar -tJf $gpu/jdk.txz | grep -q jdk.httpserver; then
    tmp=$(mktemp -d)
    "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.httpserver,jdk.incubator.vector,jdk.unsupported --strip-debug --no-man-pages \
      --no-header-files --compress=zip-9 --output "$tmp/jdk" 2>/dev/null
    strip --strip-unneeded "$tmp"/jdk/lib/server/libjvm.so "$tmp"/jdk/lib/*.so 2>/dev/null || true
    tar -C "$tmp" -cJf $gpu/jdk.txz jdk
    rm -rf "$tmp"
  fi
  # Class folders, not jars: the embedded kjv-llama (11 MB) stays behind, the carry is limited to 64 MiB.
  rm -rf $gpu/lib && mkdir -p $gpu/lib
  for m in simd quant runtime models cuda-ffm serve cli; do
    cp -r $m/target/classes $gpu/lib/$m && find $gpu/lib/$m -name '*.gguf' -delete
  done
  cp -r cuda-ffm/target/test-classes $gpu/lib/test-classes
  if [ ! -f $gpu/junit-console.jar ]; then
    mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory=$gpu/tmp
    mv $gpu/tmp/junit-platform-console-standalone-1.14.1.jar $gpu/junit-console.jar && rm -rf $gpu/tmp
  fi
  for f in llama llama3 mistral qwen2 qwen3 bitnet mamba mamba2 gpt2 bert qwen3_next; do rm -rf $gpu/shared/fixtures/hf/$f; cp -r ../shared/fixtures/hf/$f $gpu/shared/fixtures/hf/; done
  rm -rf $gpu/shared/fixtures/vision && cp -r ../shared/fixtures/vision $gpu/shared/fixtures/
  rm -rf $gpu/shared/models/kjv-llama && mkdir -p $gpu/shared/models/kjv-llama
  (cd ../shared/models/kjv-llama && cp config.json expected.json extra.json full_logits.f32 logits.f32 generation_config.json \
     model-0000*-of-00002.safetensors model.safetensors.index.json tokenizer.json tokenizer_config.json "$root/$gpu/shared/models/kjv-llama/")
  "$JAVA_HOME/bin/javac" -d $gpu/tools -cp $gpu/lib/runtime tools/RandomLlamaGguf.java tools/RandomVit.java
  # The class folders as one xz archive (2.8 → ~0.8 MB): with the repository's own files (the embedded model among them)
  # the carry stays under its 64 MiB.
  tar -C $gpu -cJf $gpu/lib.txz lib && rm -rf $gpu/lib
  du -sh $gpu
}

# The source llama.cpp needs to build llama-bench with CUDA, from a git checkout or mirror of it, into
# .llama/src.txz (git-ignored; about 4 MB), for `run compare`. Never committed.
pack_llamacpp() {
  src=${1:?usage: tools/gpu.sh pack-llamacpp LLAMA_CPP_GIT_DIR}
  tmp=$(mktemp -d)
  git --git-dir="$src" archive HEAD CMakeLists.txt cmake ggml src include common examples pocs scripts/build-info.sh scripts/xxd.cmake \
    | tar -x -C "$tmp"
  mkdir -p .llama && tar -C "$tmp" -cJf .llama/src.txz . && rm -rf "$tmp"
  echo "$(git --git-dir="$src" log -1 --format='%h %cs') $(du -h .llama/src.txz | cut -f1)" | tee .llama/version
}

run() {
  what=${1:-all}
  big=${2:-}
  rm -rf /tmp/pmx/jdk && mkdir -p /tmp/pmx && tar -C /tmp/pmx -xJf $gpu/jdk.txz
  java=/tmp/pmx/jdk/bin/java
  flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC ${JAVA_OPTS:-}) # JAVA_OPTS: more JVM options
  lib=$gpu/lib
  if [ -f $gpu/lib.txz ]; then rm -rf /tmp/pmx/lib && tar -C /tmp/pmx -xJf $gpu/lib.txz && lib=/tmp/pmx/lib; fi
  cp=$lib/simd:$lib/quant:$lib/runtime:$lib/models:$lib/cuda-ffm:$lib/serve:$lib/cli:$lib/test-classes
  export XDG_CACHE_HOME=/tmp/pmx/cache
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  status=0
  if [ "$what" = tests ] || [ "$what" = all ]; then
    echo "== GPU tests (cuda-ffm) =="
    "$java" "${flags[@]}" -Dpanamax.shared=$gpu/shared -jar $gpu/junit-console.jar execute --disable-banner --disable-ansi-colors --details=tree \
      --class-path "$cp" --select-package dev.panamax.cuda ${GPU_TEST_METHODS:+--include-methodname "$GPU_TEST_METHODS"} 2>&1 \
      | { grep -v "WARNING: Using incubator" || true; } || status=$?
  fi
  b=/tmp/pmx/bench && mkdir -p $b
  tool() { "$java" "${flags[@]}" -Xmx8g -cp "$cp:$gpu/tools" "$@" 2>&1 | { grep -v "WARNING: Using incubator" || true; }; }
  cli() { "$java" "${flags[@]}" -Xmx8g -cp "$cp" dev.panamax.cli.Main "$@" 2>&1 | { grep -v "WARNING: Using incubator" || true; }; }
  # The shapes' DIM LAYERS HEADS KV_HEADS FFN (RandomLlamaGguf's arguments before the vocabulary).
  shape_dims() { case $1 in smol135) echo "576 30 9 3 1536" ;; tinyllama) echo "2048 22 32 4 5632" ;; esac; }
  # The benchmark files: SmolLM-135M shape in F16, Q8_0, Q4_0 (and with --big TinyLlama-1.1B in F16, Q8_0), made here.
  make_files() { # (kept between runs of one call: /tmp/pmx/bench survives, the JDK is unpacked again)
    [ -f $b/smol135-F16.gguf ] || tool RandomLlamaGguf $b/smol135-F16.gguf $(shape_dims smol135) 49152 f16 >/dev/null
    [ -f $b/smol135-Q8_0.gguf ] || cli quantize $b/smol135-F16.gguf $b/smol135-Q8_0.gguf --type q8_0 >/dev/null
    [ -f $b/smol135-Q4_0.gguf ] || cli quantize $b/smol135-F16.gguf $b/smol135-Q4_0.gguf --type q4_0 >/dev/null
    files="smol135-F16 smol135-Q8_0 smol135-Q4_0"
    if [ "$big" = --big ]; then
      [ -f $b/tinyllama-F16.gguf ] || tool RandomLlamaGguf $b/tinyllama-F16.gguf $(shape_dims tinyllama) 32000 f16 >/dev/null
      [ -f $b/tinyllama-Q8_0.gguf ] || cli quantize $b/tinyllama-F16.gguf $b/tinyllama-Q8_0.gguf --type q8_0 >/dev/null
      files="$files tinyllama-F16 tinyllama-Q8_0"
      if [[ " ${BATCH_FILES:-} ${MMA_FILES:-} ${COMPARE_FILES:-} ${AB_FILES:-} " == *tinyllama-Q4_0* ]]; then # only where asked for
        [ -f $b/tinyllama-Q4_0.gguf ] || cli quantize $b/tinyllama-F16.gguf $b/tinyllama-Q4_0.gguf --type q4_0 >/dev/null
      fi
    fi
  }
  # Panamax's prefill 512 and tg128 (128 tokens from an empty context, as llama-bench measures) on file $1.
  ours() {
    out=$(cli bench $b/$1.gguf --device cuda --prompt-tokens 512 --tokens 128 --repeats 5)
    pf=$(echo "$out" | sed -n 's/^prefill [0-9]* tokens: \([0-9.]*\).*/\1/p')
    dc=$(echo "$out" | sed -n 's/^decode [0-9]* tokens: \([0-9.]*\).*/\1/p')
    tg=$(cli bench $b/$1.gguf --device cuda --prompt-tokens 1 --tokens 128 --repeats 5 | sed -n 's/^decode [0-9]* tokens: \([0-9.]*\).*/\1/p')
    [ -n "$dc" ] || echo "$out" >&2
  }
  if [ "$what" = compare ]; then # Panamax and llama.cpp on the same files, same machine, same run: run compare [--big]
    [ -f .llama/src.txz ] || { echo "no .llama/src.txz here: run tools/gpu.sh pack-llamacpp LLAMA_CPP_GIT_DIR first"; return 1; }
    lc=/tmp/pmx/llamacpp
    if [ ! -x $lc/build/bin/llama-bench ]; then
      rm -rf $lc && mkdir -p $lc/src && tar -xJf .llama/src.txz -C $lc/src
      echo "building llama.cpp $(cat .llama/version 2>/dev/null) with CUDA (sm_90) ..."
      (cmake -S $lc/src -B $lc/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF \
         -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF >$lc/cmake.log 2>&1 \
       && cmake --build $lc/build --target llama-bench -j "$(nproc)" >$lc/build.log 2>&1) || { tail -30 $lc/cmake.log $lc/build.log; return 1; }
    fi
    [ "${3:-}" = build-only ] && { echo "llama-bench built"; return 0; }
    make_files
    printf '%-16s %12s %12s %8s %12s %12s %8s\n' file 'Panamax pp512' 'llama.cpp' ratio 'Panamax tg128' 'llama.cpp' ratio
    for f in ${COMPARE_FILES:-$files}; do # COMPARE_FILES: a subset (or tinyllama-Q4_0 too)
      ours $f
      csv=$($lc/build/bin/llama-bench -m $b/$f.gguf -ngl 99 -p 512 -n 128 -r 5 -o csv 2>/dev/null)
      read -r lpp ltg < <(echo "$csv" | python3 -c "
import csv, sys
rows = list(csv.DictReader(sys.stdin)); pp = tg = 0
for r in rows:
    if r['n_prompt'] == '512' and r['n_gen'] == '0': pp = float(r['avg_ts'])
    if r['n_prompt'] == '0' and r['n_gen'] == '128': tg = float(r['avg_ts'])
print(pp, tg)")
      printf '%-16s %12s %12.0f %8s %12s %12.1f %8s\n' $f "${pf:-?}" "$lpp" "$(python3 -c "print('%.2f' % (${pf:-0} / max($lpp, 1e-9)))")" \
        "${tg:-?}" "$ltg" "$(python3 -c "print('%.2f' % (${tg:-0} / max($ltg, 1e-9)))")"
    done
    echo "(tok/s; Panamax: medians of 5 after a warm-up; llama.cpp: llama-bench -ngl 99 -p 512 -n 128 -r 5, means)"
    return 0
  fi
  if [ "$what" = vision ]; then # a ViT-B/16-shaped random model (made here): images/s on the GPU (F32, Q8_0, F16) and on this host's CPU
    [ -f $b/vit-b16/model.safetensors ] || tool RandomVit $b/vit-b16 >/dev/null
    echo "== ViT-B/16 shape, F32, --device cuda =="; cli bench $b/vit-b16 --device cuda --repeats 3 --warmup 1
    echo "== the same, Q8_0 =="; cli bench $b/vit-b16 --device cuda --repeats 3 --warmup 1 --quantize q8_0
    [ -f $b/vit-b16-f16/model.safetensors ] || tool RandomVit $b/vit-b16-f16 768 12 12 3072 224 16 1000 f16 >/dev/null
    echo "== the same weights saved in F16 (as float16 checkpoints are) =="; cli bench $b/vit-b16-f16 --device cuda --repeats 3 --warmup 1
    echo "== the same on this host's CPU ($(nproc) threads) =="; cli bench $b/vit-b16 --repeats 3 --warmup 1
    return 0
  fi
  if [ "$what" = vision-f16 ]; then # the GPU's F32 and F16 ViT-B/16 beside transformers' fp32/fp16 (if installed), in one call
    [ -f $b/vit-b16/model.safetensors ] || tool RandomVit $b/vit-b16 >/dev/null
    [ -f $b/vit-b16-f16/model.safetensors ] || tool RandomVit $b/vit-b16-f16 768 12 12 3072 224 16 1000 f16 >/dev/null
    for f in vit-b16 vit-b16-f16; do echo "== $f, --device cuda =="; cli bench $b/$f --device cuda --repeats 3 --warmup 1 | grep -E "images/s"; done
    python3 -c "import torch, transformers" 2>/dev/null && python3 tools/hf-vit-gpu.py $b/vit-b16
    return 0
  fi
  if [ "$what" = vision-peer ]; then # transformers' eager ViT on the GPU (fp32, fp16, batch 1), when torch and transformers are there
    [ -f $b/vit-b16/model.safetensors ] || tool RandomVit $b/vit-b16 >/dev/null
    python3 -c "import torch, transformers" 2>/dev/null || { echo "no torch/transformers for python3 here: $(python3 -c 'import torch; print("torch", torch.__version__)' 2>&1 | tail -1)"; return 0; }
    python3 tools/hf-vit-gpu.py $b/vit-b16
    return 0
  fi
  # One whole `generate` (java started directly) with the start-up twins or without (mode vector), timed: twins_round LABEL MODE THREADS ROUND ARGS...
  twins_round() {
    local label=$1 mode=$2 threads=$3 round=$4 opt=-Dx=1 s e; shift 4
    [ $mode = vector ] && opt=-Dpanamax.twinWarmUp=false
    s=$(date +%s.%N)
    "$java" "${flags[@]}" $opt -cp "$cp" dev.panamax.cli.Main generate "$@" --temperature 0 --threads $threads > /dev/null 2> /tmp/pmx/gen.err \
      || tail -3 /tmp/pmx/gen.err
    e=$(date +%s.%N)
    printf '%s %2s threads round %s %-6s %6.2f s  %s\n' "$label" $threads $round $mode "$(python3 -c "print($e - $s)")" "$(grep -E '^panamax: prompt' /tmp/pmx/gen.err)"
  }
  if [ "$what" = startup ]; then # the CPU start-up twins on this host's many cores: kjv-llama, whole process, twins against vector kernels alone
    for n in 32 512; do
      for threads in 2 $(nproc); do
        for round in 1 2 3; do
          for mode in twins vector; do
            twins_round "$(printf '%4s tokens' $n)" $mode $threads $round $gpu/shared/models/kjv-llama "In the beginning" --max-tokens $n
          done
        done
      done
    done
    echo "(kjv-llama safetensors F32, java started directly, no class archive; $(nproc) processors; twins: -Dpanamax.twinWarmUp default)"
    return 0
  fi
  if [ "$what" = startup-quant ]; then # the quantized decode kernels' start-up twins on this host's CPU: TinyLlama-shape Q8_0/Q4_0, whole process
    [ -f $b/tinyllama-F16.gguf ] || tool RandomLlamaGguf $b/tinyllama-F16.gguf $(shape_dims tinyllama) 32000 f16 >/dev/null
    for q in Q8_0 Q4_0; do
      [ -f $b/tinyllama-$q.gguf ] || cli quantize $b/tinyllama-F16.gguf $b/tinyllama-$q.gguf --type ${q,,} >/dev/null
      cli generate $b/tinyllama-$q.gguf --ids 1,15043 --max-tokens 1 >/dev/null # writes the layout cache, not timed
    done
    for threads in 2 $(nproc); do
      for round in 1 2 3; do
        for q in Q8_0 Q4_0; do
          for mode in twins vector; do
            twins_round "$q" $mode $threads $round $b/tinyllama-$q.gguf --ids 1,15043 --max-tokens 32
          done
        done
      done
    done
    echo "(TinyLlama-shape random weights, java started directly, no class archive, layout cache mapped; $(nproc) processors; twins: -Dpanamax.twinWarmUp default)"
    return 0
  fi
  if [ "$what" = prompt-attention ]; then # a prompt's attention: the tiled kernel against the split one and its merge, alternating
    big=--big; make_files
    for round in 1 2; do
      for f in ${PROMPT_FILES:-smol135-F16 tinyllama-F16 tinyllama-Q8_0}; do # PROMPT_FILES: some of the files only
        for mode in tiles split; do
          opt=-Dx=1; [ $mode = split ] && opt="-Dpanamax.experiments=true -Dpanamax.cuda.splitPromptAttention=true"
          out=$("$java" "${flags[@]}" $opt -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf --device cuda --prompt-tokens 512 --tokens 64 --repeats 5 2>&1)
          printf '%-16s %-6s round %s  %s  %s\n' $f $mode $round "$(echo "$out" | grep -E '^prefill' | head -1)" "$(echo "$out" | grep -E '^decode' | head -1)"
        done
      done
    done
    return 0
  fi
  if [ "$what" = firstrun ]; then # a fresh installation's first generate and a later one, kernels built in parts or whole
    make_files
    for mode in parts whole; do
      opt=-Dpanamax.cuda.compileParts=true; [ $mode = whole ] && opt=-Dpanamax.cuda.compileParts=false
      rm -rf /tmp/pmx/cache
      for run in first later; do
        s=$(date +%s.%N)
        "$java" "${flags[@]}" $opt -Xmx8g -cp "$cp" dev.panamax.cli.Main generate $b/smol135-F16.gguf --ids 1,15043 --max-tokens 32 \
          --temperature 0 --device cuda > /tmp/pmx/gen.out 2> /tmp/pmx/gen.err || tail -5 /tmp/pmx/gen.err
        e=$(date +%s.%N)
        printf '%-6s %-6s %6.2f s  %s\n' $mode $run "$(python3 -c "print($e - $s)")" "$(grep -E '^panamax: (loaded|prompt)' /tmp/pmx/gen.err | tr '\n' ' ')"
      done
    done
    echo "(whole process, java started directly: generate smol135-F16 --ids 1,15043 --max-tokens 32 --device cuda; the NVRTC cache emptied before each first run)"
    return 0
  fi
  if [ "$what" = sampled ]; then # generate on the GPU sampled (the defaults) against greedy: what picking a token costs beside the GPU's step
    make_files
    for f in ${SAMPLED_FILES:-smol135-F16 ${big:+tinyllama-F16}}; do
      for round in 1 2; do
        for t in 0.8 0; do
          "$java" "${flags[@]}" -Xmx8g -cp "$cp" dev.panamax.cli.Main generate $b/$f.gguf --ids 1,15043 --max-tokens 512 --temperature $t \
            --seed $round --device cuda > /tmp/pmx/gen.out 2> /tmp/pmx/gen.err || tail -5 /tmp/pmx/gen.err
          printf '%-15s %s temperature %-4s %s\n' $f $round $t "$(grep -o 'generated.*' /tmp/pmx/gen.err)"
        done
      done
    done
    return 0
  fi
  if [ "$what" = load ]; then # a later run's load on the GPU: weights through the staging buffers against synchronous copies
    make_files
    for f in $files; do
      for round in 1 2 3; do
        for mode in staged sync; do
          opt=-Dx=1; [ $mode = sync ] && opt=-Dpanamax.cuda.stagedUploads=false
          s=$(date +%s.%N)
          "$java" "${flags[@]}" $opt -Xmx8g -cp "$cp" dev.panamax.cli.Main generate $b/$f.gguf --ids 1,15043 --max-tokens 32 \
            --temperature 0 --device cuda > /tmp/pmx/gen.out 2> /tmp/pmx/gen.err || tail -5 /tmp/pmx/gen.err
          e=$(date +%s.%N)
          printf '%-15s %s %-6s %6.2f s  %s\n' $f $round $mode "$(python3 -c "print($e - $s)")" \
            "$(grep -E '^panamax: (loaded|on the GPU|prompt)' /tmp/pmx/gen.err | sed 's/^panamax: //' | tr '\n' ' ')"
        done
      done
    done
    if [ -f $gpu/libasyncProfiler.so ] && [ -n "${OUT:-}" ]; then # where a TinyLlama (or smol135) start goes, wall clock, all threads
      f=$(echo $files | awk '{print $NF}')
      "$java" "${flags[@]}" -agentpath:$gpu/libasyncProfiler.so=start,event=wall,interval=2ms,file=$OUT/load-$f.collapsed,collapsed \
        -Xmx8g -cp "$cp" dev.panamax.cli.Main generate $b/$f.gguf --ids 1,15043 --max-tokens 32 --temperature 0 --device cuda \
        > /dev/null 2> /tmp/pmx/gen.err || tail -5 /tmp/pmx/gen.err
      echo "profile of $f: $OUT/load-$f.collapsed"
    fi
    echo "(whole process, java started directly: generate FILE --ids 1,15043 --max-tokens 32 --device cuda, NVRTC cache warm; sync: -Dpanamax.cuda.stagedUploads=false)"
    return 0
  fi
  if [ "$what" = intdot ]; then # Q8_0/Q4_0 decode (tg128) with the integer dot products against the float ones, alternating
    make_files
    for f in ${INTDOT_FILES:-smol135-Q8_0 smol135-Q4_0 ${big:+tinyllama-Q8_0}}; do
      mb=$(( $(stat -c %s $b/$f.gguf) / 1000000 ))
      for round in $(seq ${INTDOT_ROUNDS:-3}); do
        for mode in int float ${INTDOT_MODES:-}; do # INTDOT_MODES: more, e.g. int-b4 (4 loads a batch, as matvec_q8_0_b4)
          opt=-Dx=1; [ $mode = float ] && opt=-Dpanamax.cuda.intDot=false; [ $mode = int-b4 ] && opt=-Dpanamax.cuda.matvecBatch=4
          tg=$("$java" "${flags[@]}" $opt -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf --device cuda --prompt-tokens 1 --tokens 128 \
            --repeats 5 2>&1 | sed -n 's/^decode [0-9]* tokens: \([0-9.]*\).*/\1/p')
          printf '%-16s round %s %-6s tg128 %10s tok/s  %6.0f GB/s\n' $f $round $mode "${tg:-?}" "$(python3 -c "print($mb * ${tg:-0} / 1000)")"
        done
      done
    done
    echo "(bench --prompt-tokens 1 --tokens 128 --repeats 5, medians; float: -Dpanamax.cuda.intDot=false; GB/s = file size x tok/s)"
    return 0
  fi
  if [ "$what" = mma ]; then # Q8_0/Q4_0 decode with the tensor-core matvecs (matvec_mma_*) against the dp4a kernels, alternating
    make_files
    printf '%-16s %6s %-5s %10s %10s %10s\n' file round mode 'B=1' 'B=16' 'B=16 / B=1'
    for f in ${MMA_FILES:-smol135-Q8_0 smol135-Q4_0 ${big:+tinyllama-Q8_0}}; do
      for round in $(seq ${MMA_ROUNDS:-2}); do
        for mode in dp4a mma; do
          opt=-Dpanamax.cuda.mma=false; [ $mode = mma ] && opt=-Dpanamax.cuda.mma=true
          declare -A bt=()
          for B in 1 16; do
            bt[$B]=$("$java" "${flags[@]}" $opt -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf --device cuda --prompt-tokens 16 --tokens 64 \
              --repeats 3 --batch $B 2>&1 | sed -n 's/^decode [0-9]* tokens.*: \([0-9.]*\) tok\/s/\1/p')
          done
          printf '%-16s %6s %-5s %10s %10s %10s\n' $f $round $mode "${bt[1]:-?}" "${bt[16]:-?}" \
            "$(python3 -c "print('%.2fx' % (${bt[16]:-0} / max(${bt[1]:-0}, 1e-9)))")"
          unset bt
        done
      done
    done
    echo "(aggregate decode tok/s: bench --batch B --prompt-tokens 16 --tokens 64 --repeats 3; mma: -Dpanamax.cuda.mma=true)"
    return 0
  fi
  if [ "$what" = skip ]; then # what each kind of decode launch costs inside the graph: tok/s without it (wrong logits)
    make_files
    X=-Dpanamax.experiments=true
    printf '%-16s %6s %-8s %10s %10s %14s\n' file round without "tok/s" "µs/token" "its µs/token"
    for f in ${SKIP_FILES:-smol135-F16 ${big:+tinyllama-F16 tinyllama-Q8_0}}; do
      for round in $(seq ${SKIP_ROUNDS:-1}); do
        full=
        for k in none qkv attn o gateup down head; do
          t=$("$java" "${flags[@]}" $X ${SKIP_OPTS:-} -Dpanamax.cuda.skip=$k -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf --device cuda \
            --prompt-tokens 1 --tokens 128 --repeats 3 2>&1 | sed -n 's/^decode [0-9]* tokens.*: \([0-9.]*\) tok\/s/\1/p')
          [ -z "$full" ] && full=$t
          awk -v f=$f -v r=$round -v k=$k -v t="${t:-0}" -v full="${full:-0}" 'BEGIN { us = t > 0 ? 1e6 / t : 0;
            printf "%-16s %6s %-8s %10.1f %10.1f %14s\n", f, r, k, t, us, k == "none" || t == 0 ? "" : sprintf("%.1f", 1e6 / full - us) }'
        done
      done
    done
    echo "(bench --prompt-tokens 1 --tokens 128 --repeats 3 with -Dpanamax.cuda.skip=KIND: its µs/token is the full step's less the step without it)"
    return 0
  fi
  if [ "$what" = ab ]; then # decode tok/s under JVM option sets, alternating in one call (AB_OPTS: sets split by '|')
    make_files
    IFS='|' read -r -a sets <<< "${AB_OPTS:--Dpanamax.cuda.rowLoop=0|-Dpanamax.cuda.rowLoop=2}"
    printf '%-16s %6s %-34s' file round options; for B in ${AB_BATCH:-1 16}; do printf ' %10s' "B=$B"; done; echo
    for f in ${AB_FILES:-smol135-F16 smol135-Q8_0 ${big:+tinyllama-F16 tinyllama-Q8_0}}; do
      for round in $(seq ${AB_ROUNDS:-2}); do
        for set in "${sets[@]}"; do
          printf '%-16s %6s %-34s' $f $round "$set"
          for B in ${AB_BATCH:-1 16}; do
            t=$("$java" "${flags[@]}" $set -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf --device cuda --prompt-tokens ${AB_PROMPT:-1} \
              --tokens 128 --repeats 3 --batch $B 2>&1 | sed -n 's/^decode [0-9]* tokens.*: \([0-9.]*\) tok\/s/\1/p')
            printf ' %10s' "${t:-?}"
          done
          echo
        done
      done
    done
    echo "(aggregate decode tok/s: bench --batch B --prompt-tokens ${AB_PROMPT:-1} --tokens 128 --repeats 3)"
    return 0
  fi
  if [ "$what" = mmaprompt ]; then # short prompts' prefill tok/s: quantized matrices by the tensor-core matvec against dequantized + GEMM
    make_files
    for f in ${MMA_FILES:-smol135-Q8_0 ${big:+tinyllama-Q8_0}}; do
      for P in ${PROMPT_SIZES:-2 8 16 32 64}; do
        for mode in gemm rows; do
          n=0; [ $mode = rows ] && n=64
          pf=$("$java" "${flags[@]}" -Dpanamax.experiments=true -Dpanamax.cuda.mmaPromptRows=$n -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $b/$f.gguf \
            --device cuda --prompt-tokens $P --tokens 8 --repeats 5 2>&1 | sed -n 's/^prefill [0-9]* tokens: \([0-9.]*\).*/\1/p')
          printf '%-16s prompt %4s %-5s %10s tok/s\n' $f $P $mode "${pf:-?}"
        done
      done
    done
    echo "(bench --prompt-tokens P --tokens 8 --repeats 5, prefill medians; rows: -Dpanamax.cuda.mmaPromptRows=64, gemm: =0)"
    return 0
  fi
  if [ "$what" = longctx ]; then # decode after 512 and after 4096 prompt tokens, TinyLlama shape (issue 28: within 1.3x)
    f=$b/tinyllama-F16-8k.gguf
    [ -f $f ] || tool RandomLlamaGguf $f $(shape_dims tinyllama) 32000 f16 8192 >/dev/null
    for kv in f32 f16; do
      for p in 512 4096 512 4096; do
        echo "kv $kv, prompt $p: $(cli bench $f --device cuda --prompt-tokens $p --tokens 128 --repeats 3 --warmup 1 --kv-type $kv | grep -E '^(prefill|decode)' | tr '\n' ' ')"
      done
    done
    echo "(TinyLlama shape F16, context 8192; bench --prompt-tokens P --tokens 128 --repeats 3: decode is after the P-token prompt)"
    return 0
  fi
  if [ "$what" = timing ]; then # TIMING_FILES: make_files' files (default smol135-F16; TinyLlama's with --big)
    make_files
    for f in ${TIMING_FILES:-smol135-F16}; do
      echo "== $f"
      "$java" "${flags[@]}" -cp "$cp" dev.panamax.cuda.DecodeTiming $b/$f.gguf 2>&1 | { grep -v "WARNING: Using incubator" || true; }
    done
    return 0
  fi
  if [ "$what" = matvec ]; then # GB/s of the decode matvec per launch configuration: run matvec [TYPE [CONFIGS]]
    "$java" "${flags[@]}" -cp "$cp" dev.panamax.cuda.MatvecBench ${big:-F16} ${3:-} 2>&1 | { grep -v "WARNING: Using incubator" || true; }
    return 0
  fi
  if [ "$what" = matvec-ncu ]; then # Nsight Compute's sections for one matvec shape: run matvec-ncu TYPE CONFIG SHAPE
    ncu --target-processes all --cache-control none --clock-control none --kernel-name regex:matvec --launch-skip 150 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
      "$java" "${flags[@]}" -cp "$cp" dev.panamax.cuda.MatvecBench "$big" "$3" "$4" 2>&1 | grep -v "^==PROF==\|WARNING: Using incubator" \
      | grep -E "Duration|Elapsed Cycles|SM Frequency|Throughput|Stall|Warp Cycles|Issued|Registers|Achieved|Theoretical Occ|Block Limit|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Waves|Eligible|Active Warps|No Eligible" | head -60
    return 0
  fi
  if [ "$what" = kernel ]; then # Nsight Compute's details of one decode kernel: run kernel NAME [--big] (PROFILE_PROMPT: context; PROFILE_BATCH=B: a batched step of B sequences)
    f=$b/smol135-F16.gguf
    tool RandomLlamaGguf $f $(shape_dims smol135) 49152 f16 >/dev/null
    if [ "${3:-}" = --big ]; then f=$b/tinyllama-F16.gguf; tool RandomLlamaGguf $f $(shape_dims tinyllama) 32000 f16 >/dev/null; fi
    ncu --target-processes all --cache-control none --clock-control none --kernel-name "$big" --launch-skip 300 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
      --section SourceCounters --print-details all \
      "$java" "${flags[@]}" -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $f --device cuda --prompt-tokens ${PROFILE_PROMPT:-16} --tokens 40 \
      ${PROFILE_BATCH:+--batch $PROFILE_BATCH} --repeats 1 2>&1 | grep -v "^==PROF==\|WARNING: Using incubator" | grep -E "Duration|Elapsed Cycles|SM Frequency|Throughput|Stall|stall|Warp Cycles|Issued|Registers|Achieved|Theoretical Occ|Block Limit|Local|Shared Memory Config|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Waves|Grid Size|Block Size" | head -80
    return 0
  fi
  if [ "$what" = profile ]; then
    # Per-kernel GPU time of a few decode steps of smol135 (Nsight Compute), grouped by kernel and grid.
    if [ -n "${PROFILE_FILE:-}" ]; then # PROFILE_FILE: one of make_files' files (with --big: e.g. tinyllama-Q8_0)
      make_files; f=$b/$PROFILE_FILE.gguf
    else
      tool RandomLlamaGguf $b/smol135-F16.gguf $(shape_dims smol135) 49152 f16 >/dev/null
      f=$b/smol135-F16.gguf
      if [ "$big" = --big ]; then tool RandomLlamaGguf $b/tinyllama-F16.gguf $(shape_dims tinyllama) 32000 f16 >/dev/null; f=$b/tinyllama-F16.gguf; fi
    fi
    # --big prefill: the kernels of one 512-token prompt instead (cuBLAS included).
    filter=(--kernel-name "regex:${PROFILE_KERNELS:-matvec|attention_decode|embed}" --launch-skip ${PROFILE_SKIP:-400} --launch-count 600)
    args=(--prompt-tokens ${PROFILE_PROMPT:-16} --tokens 40 ${PROFILE_BATCH:+--batch $PROFILE_BATCH}) # PROFILE_PROMPT: a longer context; PROFILE_BATCH: a batched step
    if [ "${3:-}" = prefill ]; then filter=(--launch-skip 0 --launch-count 300); args=(--prompt-tokens 512 --tokens 1); fi
    ncu --target-processes all --cache-control none --clock-control none "${filter[@]}" \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv --page raw --print-units base \
      "$java" "${flags[@]}" -Xmx8g -cp "$cp" dev.panamax.cli.Main bench $f --device cuda "${args[@]}" --repeats 1 \
      > /tmp/pmx/ncu.csv 2>/tmp/pmx/ncu.err || { tail -20 /tmp/pmx/ncu.err; }
    python3 - <<'PY'
import csv, collections
rows = list(csv.reader(open('/tmp/pmx/ncu.csv')))
hdr_i = next(i for i, r in enumerate(rows) if 'Kernel Name' in r)
hdr = rows[hdr_i]; data = rows[hdr_i + 2:]
ki, gi, ti, bi = hdr.index('Kernel Name'), hdr.index('Grid Size'), hdr.index('gpu__time_duration.sum'), hdr.index('dram__bytes_read.sum')
agg = collections.defaultdict(lambda: [0, 0.0, 0.0])
for r in data:
    key = (r[ki].split('(')[0][:40], r[gi]); a = agg[key]; a[0] += 1
    a[1] += float(r[ti].replace(',', '')); a[2] += float(r[bi].replace(',', ''))
tot = sum(a[1] for a in agg.values())
print('%-22s %-16s %6s %10s %10s %8s' % ('kernel', 'grid', 'count', 'avg us', 'avg MB', 'GB/s'))
for (k, g), (n, t, b) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:25]:
    print('%-22s %-16s %6d %10.2f %10.3f %8.0f' % (k, g, n, t / n / 1e3, b / n / 1e6, b / t))
print('total kernel time %.1f us over %d launches' % (tot / 1e3, sum(a[0] for a in agg.values())))
PY
    return 0
  fi
  if [ "$what" = serve ] || [ "$what" = all ]; then
    # panamax serve --device cuda: 16 greedy completions one at a time, then 16 at once as streams; the
    # texts must agree (tools/serve-check.py), and the tokens/s of both passes are printed (issue 25: 16
    # streams >= 4x one). SERVE_FILES: kjv-llama (default) and/or random-weight files of make_files' shapes
    # with kjv-llama's tokenizer (text in and out): smol135-kjv-F16, tinyllama-kjv-Q8_0, tinyllama-kjv-Q4_0, ...
    for sf in ${SERVE_FILES:-kjv-llama}; do
      model=$gpu/shared/models/kjv-llama
      if [ "$sf" != kjv-llama ]; then
        [ -f $b/kjv.gguf ] || cli convert $gpu/shared/models/kjv-llama $b/kjv.gguf >/dev/null
        shape=${sf%%-kjv-*} type=${sf##*-kjv-}
        dims=$(shape_dims $shape)
        [ -n "$dims" ] || { echo "unknown shape $shape"; status=1; continue; }
        [ -f $b/$shape-kjv-F16.gguf ] || tool RandomLlamaGguf $b/$shape-kjv-F16.gguf $dims $b/kjv.gguf f16 >/dev/null
        [ -f $b/$sf.gguf ] || cli quantize $b/$shape-kjv-F16.gguf $b/$sf.gguf --type ${type,,} >/dev/null
        model=$b/$sf.gguf
      fi
      echo "== serve --device cuda: $sf =="
      "$java" "${flags[@]}" -Xmx8g -cp "$cp" dev.panamax.cli.Main serve $model --device cuda --port 18080 \
        --parallel 16 --warmup 1 > /tmp/pmx/serve.log 2>&1 &
      spid=$!
      for pass in $(seq ${SERVE_PASSES:-1}); do # a second pass: the batch sizes' CUDA graphs already captured
        python3 tools/serve-check.py http://127.0.0.1:18080 16 ${SERVE_TOKENS:-48} || status=1
      done
      kill -TERM $spid 2>/dev/null; wait $spid || echo "serve exited with $?"
      grep -v "WARNING: Using incubator" /tmp/pmx/serve.log | tail -${SERVE_LOG_LINES:-5}
    done
  fi
  if [ "$what" = bench ] || [ "$what" = all ]; then
    echo "== benchmarks =="
    make_files
    bw=$(python3 -c "
import torch
x = torch.empty(2 << 30, dtype=torch.uint8, device='cuda'); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(10): y.copy_(x)
e.record(); torch.cuda.synchronize()
print('%.0f' % (2 * 10 * x.numel() / (s.elapsed_time(e) / 1e3) / 1e9))" 2>/dev/null || echo 0)
    echo "device copy bandwidth (read + write, torch): $bw GB/s"
    printf '%-16s %6s %12s %12s %12s %9s %9s\n' file 'MB' 'prefill 512' 'decode 128' 'tg128' 'GB/s' 'roofline'
    for f in $files; do
      ours $f
      mb=$(( $(stat -c %s $b/$f.gguf) / 1000000 ))
      gbs=$(python3 -c "print('%.0f' % ($mb * ${tg:-0} / 1000))")
      roof=$(python3 -c "print('%.0f%%' % (100 * $mb * ${tg:-0} / 1000 / max(1, ${bw:-0})))")
      printf '%-16s %6s %12s %12s %12s %9s %9s\n' $f $mb "${pf:-?}" "${dc:-?}" "${tg:-?}" "$gbs" "$roof"
    done
    echo "(tok/s, medians of 5 after a warm-up; decode 128: after the 512-token prompt; tg128: from an empty"
    echo " context, as llama-bench measures; GB/s = file size x tg128 tok/s; roofline = that / copy bandwidth)"
  fi
  if [ "$what" = bench ] || [ "$what" = all ] || [ "$what" = batch ]; then
    [ "$what" = batch ] && make_files
    # Batched decode (panamax serve's steps): B sequences after 16-token prompts, 64 steps, against one sequence.
    printf '%-16s %10s %10s %10s %10s %10s\n' file 'B=1' 'B=4' 'B=16' 'B=64' 'B=16 / B=1'
    for f in ${BATCH_FILES:-$files}; do # BATCH_FILES: some of the files only
      declare -A bt=()
      for B in ${BATCH_SIZES:-1 4 16 64}; do # BATCH_SIZES: fewer sizes
        bt[$B]=$(cli bench $b/$f.gguf --device cuda --prompt-tokens 16 --tokens 64 --repeats 3 --batch $B | sed -n 's/^decode [0-9]* tokens.*: \([0-9.]*\) tok\/s/\1/p')
      done
      printf '%-16s %10s %10s %10s %10s %10s\n' $f "${bt[1]:-?}" "${bt[4]:-?}" "${bt[16]:-?}" "${bt[64]:-?}" \
        "$(python3 -c "print('%.2fx' % (${bt[16]:-0} / max(${bt[1]:-0}, 1e-9)))")"
      unset bt
    done
    echo "(aggregate tok/s of B sequences decoded together: bench --batch B --prompt-tokens 16 --tokens 64 --repeats 3)"
  fi
  return $status
}

case "${1:-}" in
  pack) pack ;;
  pack-llamacpp) shift; pack_llamacpp "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: tools/gpu.sh pack | pack-llamacpp LLAMA_CPP_GIT_DIR | run [tests|serve|bench|batch|firstrun|all|compare|matvec|timing|profile|kernel] [--big]" >&2; exit 2 ;;
esac
