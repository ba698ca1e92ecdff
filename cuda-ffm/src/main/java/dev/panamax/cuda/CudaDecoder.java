package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.DecoderSpec;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A decoder-only transformer (the Llama family, GPT-2; see {@link DecoderSpec}) resident on the GPU:
 * weights uploaded once (W_q|W_k|W_v stacked, W_gate and W_up with their rows interleaved, quantized
 * ones kept quantized), per session a KV cache and activations on the device. A decoded token is one
 * CUDA graph replay: the step (embedding (+ learned position), per layer QKV with the norm fused,
 * RoPE + cache store, split-K attention, W_o with the residual, gate/up (or up with GELU), down with
 * the gate fused and the residual, the final norm and logits) is captured once per session and
 * replayed with the token and position read from device memory. A prompt runs as matrix-matrix work
 * through cuBLAS.
 */
final class CudaDecoder extends CudaModel {
    static final int MAX_CONTEXT = dev.panamax.simd.Tuning.speed("cuda.context", 16384);

    final DecoderSpec s;
    final DeviceMatrix embed, output, positions;
    final long finalNorm, finalNormBias, rope;
    final boolean gated;
    final Layer[] layers;
    final int qDim, kvDim, qkvDim, capacity, act;
    /** Bytes of a KV cache element: 4, or 2 with --kv-type f16. */
    final int kvElement;
    /** Dimensions RoPE rotates per head (0 with learned positions). */
    final int rot;

    /**
     * One layer on the device; pointers are 0 where the architecture has no such vector. gateUp holds
     * W_gate and W_up interleaved, or W_up alone when the feed-forward is not gated.
     */
    record Layer(long attnNorm, long attnNormBias, DeviceMatrix qkv, long bqkv, long qNorm, long kNorm, DeviceMatrix o, long bo,
                 long attnSubNorm, long ffnNorm, long ffnNormBias, DeviceMatrix gateUp, long bUp, DeviceMatrix down, long bDown,
                 long ffnSubNorm) {}

    CudaDecoder(CudaContext cx, DecoderSpec s, LanguageModel cpu) {
        super(cx, cpu, s.vocab(), s.kvF16(), s.sigmoidAttention());
        this.s = s;
        kvElement = s.kvF16() ? 2 : 4;
        qDim = s.heads() * s.headDim();
        kvDim = s.kvHeads() * s.headDim();
        qkvDim = qDim + 2 * kvDim;
        capacity = Math.min(s.context(), MAX_CONTEXT);
        act = s.activation().equals("relu2") ? 2 : 1;
        rot = s.invFreq() == null ? 0 : 2 * s.invFreq().length;
        gated = !s.layerWeights().isEmpty() && s.layerWeights().get(0).gate() != null;
        try (Uploads up = cx.beginUploads()) {
            Map<Tensor, DeviceMatrix> uploaded = new IdentityHashMap<>();
            embed = DeviceMatrix.upload(cx, weights, s.embed());
            uploaded.put(s.embed(), embed);
            output = uploaded.computeIfAbsent(s.output(), t -> DeviceMatrix.upload(cx, weights, t)); // tied: the same table
            finalNorm = cx.upload(weights, s.finalNorm());
            finalNormBias = opt(s.finalNormBias());
            rope = s.invFreq() == null ? 0 : cx.upload(weights, CudaOps.ropeTable(s.invFreq(), capacity));
            positions = s.positions() == null ? null : DeviceMatrix.upload(cx, weights, s.positions());
            layers = new Layer[s.layers()];
            for (int i = 0; i < s.layers(); i++) {
                DecoderSpec.Layer L = s.layerWeights().get(i);
                long bias = 0;
                if (L.bq() != null || L.bk() != null || L.bv() != null) {
                    float[] b = new float[qkvDim];
                    if (L.bq() != null) System.arraycopy(L.bq(), 0, b, 0, qDim);
                    if (L.bk() != null) System.arraycopy(L.bk(), 0, b, qDim, kvDim);
                    if (L.bv() != null) System.arraycopy(L.bv(), 0, b, qDim + kvDim, kvDim);
                    bias = cx.upload(weights, b);
                }
                DeviceMatrix gateUp = gated ? DeviceMatrix.uploadInterleaved(cx, weights, L.gate(), L.up()) : DeviceMatrix.upload(cx, weights, L.up());
                layers[i] = new Layer(cx.upload(weights, L.attnNorm()), opt(L.attnNormBias()), DeviceMatrix.upload(cx, weights, L.wq(), L.wk(), L.wv()),
                        bias, opt(L.qNorm()), opt(L.kNorm()), DeviceMatrix.upload(cx, weights, L.wo()), opt(L.bo()), opt(L.attnSubNorm()),
                        cx.upload(weights, L.ffnNorm()), opt(L.ffnNormBias()), gateUp, opt(L.bUp()), DeviceMatrix.upload(cx, weights, L.down()),
                        opt(L.bDown()), opt(L.ffnSubNorm()));
            }
            up.close();
            uploaded(up);
        } catch (RuntimeException e) {
            throw failed(e);
        }
    }

    /** Bytes of weights on the device. */
    long weightBytes() {
        long b = embed.bytes + (output != embed ? output.bytes : 0);
        for (Layer L : layers) b += L.qkv.bytes + L.o.bytes + L.gateUp.bytes + L.down.bytes;
        return b;
    }

    @Override
    public int contextLength() {
        return capacity;
    }

    @Override
    GraphSession openSession() {
        return new Session(this);
    }


    /** Most sequences in one batched step; a larger step runs as several. */
    static final int MAX_BATCH = 64;

    private final Object batchLock = new Object();
    private Batch batch;

    /**
     * One decode step of several sequences ({@link LanguageModel#decodeStep}), each weight matrix
     * streamed once per layer for all of them: the rows' activations side by side, every matvec one
     * launch over all rows ({@link CudaOps#batchMatvec}: the single-sequence kernel repeated per row,
     * so each row's logits are bit for bit those it gets alone), attention one launch for all rows,
     * each over its own cache at its own position ({@link CudaOps#attentionDecodeRows}). A step whose sequences are those of the previous step replays a
     * CUDA graph captured for them. A session given more than once (prompt rows) falls back to one
     * forward per row.
     */
    @Override
    public float[][] decodeStep(LanguageModel.Session[] sessions, int[] tokens) {
        if (sessions.length != tokens.length) throw new IllegalArgumentException(sessions.length + " sessions, " + tokens.length + " tokens");
        int B = sessions.length;
        java.util.Set<LanguageModel.Session> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (LanguageModel.Session x : sessions) {
            if (!(x instanceof Session se) || se.m != this || !seen.add(x)) return super.decodeStep(sessions, tokens);
        }
        if (B == 1) return new float[][] {sessions[0].forward(tokens[0])};
        if (B > MAX_BATCH) {
            float[][] all = new float[B][];
            for (int from = 0; from < B; from += MAX_BATCH) {
                int to = Math.min(B, from + MAX_BATCH);
                float[][] part = decodeStep(java.util.Arrays.copyOfRange(sessions, from, to), java.util.Arrays.copyOfRange(tokens, from, to));
                System.arraycopy(part, 0, all, from, to - from);
            }
            return all;
        }
        Session[] ss = new Session[B];
        for (int i = 0; i < B; i++) {
            ss[i] = (Session) sessions[i];
            ss[i].checkOpen();
            checkToken(tokens[i]);
            ss[i].checkRoom(1);
        }
        synchronized (batchLock) {
            if (batch == null || batch.rows < B) {
                if (batch != null) batch.free();
                batch = null;
                batch = new Batch(Math.min(MAX_BATCH, Integer.highestOneBit(B - 1) << 1));
            }
            return batch.step(ss, tokens);
        }
    }

    @Override
    public void close() {
        synchronized (batchLock) {
            if (batch != null) batch.free();
            batch = null;
        }
        super.close();
    }

    /**
     * A batched step's device buffers for up to {@code rows} sequences, its stream, and the graph of
     * the last company of sequences (held by weak references: a finished sequence is not kept).
     */
    private final class Batch {
        final int rows;
        final Arena arena = Arena.ofShared();
        final long stream, ids, X, QKV, ATT, GU, LOGITS, zeros;
        /**
         * Device and pinned host, copied in at the start of each step: ints [rows tokens][rows ×
         * {position, token}], then longs [rows × {K cache, V cache, partials, counts}] (the rows' sequences).
         */
        final MemorySegment hostIds, hostLogits;
        private java.lang.ref.WeakReference<Session>[] company;
        private final long[] graph = new long[2];

        Batch(int rows) {
            this.rows = rows;
            cx.makeCurrent();
            stream = cx.driver.createStream();
            try {
                ids = cx.allocate(arena, 44L * rows);
                hostIds = cx.allocateHost(arena, 44L * rows);
                X = cx.allocate(arena, 4L * rows * s.dim());
                QKV = cx.allocate(arena, 4L * rows * qkvDim);
                ATT = cx.allocate(arena, 4L * rows * qDim);
                GU = cx.allocate(arena, 4L * rows * s.ffnDim());
                LOGITS = cx.allocate(arena, 4L * rows * vocab);
                hostLogits = cx.allocateHost(arena, 4L * rows * vocab);
                zeros = cx.zeros(arena, 4L * rows);
            } catch (RuntimeException e) {
                cx.driver.destroyStream(stream);
                arena.close();
                throw e;
            }
        }

        float[][] step(Session[] ss, int[] tokens) {
            int B = ss.length;
            cx.makeCurrent();
            for (int i = 0; i < B; i++) {
                hostIds.set(java.lang.foreign.ValueLayout.JAVA_INT, 4L * i, tokens[i]);
                hostIds.set(java.lang.foreign.ValueLayout.JAVA_INT, 4L * rows + 8L * i, ss[i].pos);
                hostIds.set(java.lang.foreign.ValueLayout.JAVA_INT, 4L * rows + 8L * i + 4, tokens[i]);
                long[] seq = {ss[i].kc, ss[i].vc, ss[i].part, ss[i].count};
                for (int k = 0; k < 4; k++) hostIds.set(java.lang.foreign.ValueLayout.JAVA_LONG, 12L * rows + 32L * i + 8L * k, seq[k]);
            }
            if (!sameCompany(ss)) { // a new company: run eagerly, capture if it comes again
                dropGraph();
                @SuppressWarnings("unchecked")
                java.lang.ref.WeakReference<Session>[] c = new java.lang.ref.WeakReference[B];
                for (int i = 0; i < B; i++) c[i] = new java.lang.ref.WeakReference<>(ss[i]);
                company = c;
                launches(ss);
            } else {
                if (graph[1] == 0 && !dev.panamax.simd.Tuning.flag("cuda.noGraph")) {
                    synchronized (cx.captureLock) {
                        cx.driver.beginCapture(stream);
                        try {
                            launches(ss);
                        } finally {
                            long[] g = cx.driver.endCaptureAndInstantiate(stream);
                            graph[0] = g[0];
                            graph[1] = g[1];
                        }
                    }
                }
                if (graph[1] != 0) cx.driver.launchGraph(graph[1], stream);
                else launches(ss);
            }
            cx.driver.synchronize(stream);
            float[][] logits = new float[B][];
            for (int i = 0; i < B; i++) {
                Session se = ss[i];
                MemorySegment.copy(hostLogits, java.lang.foreign.ValueLayout.JAVA_FLOAT, 4L * i * vocab, se.out, 0, vocab);
                se.pos++;
                logits[i] = se.out;
            }
            return logits;
        }

        private boolean sameCompany(Session[] ss) {
            if (company == null || company.length != ss.length) return false;
            for (int i = 0; i < ss.length; i++) if (company[i].get() != ss[i]) return false;
            return true;
        }

        /** The step's launches on {@link #stream}: {@link Session#decodeStep}'s, each matvec over all rows. */
        private void launches(Session[] ss) {
            int B = ss.length, d = s.dim(), hd = s.headDim();
            float eps = s.normEps();
            CudaOps ops = decodeOps;
            long P = ids + 4L * rows; // row i's {position, token} at P + 8i
            cx.driver.copyToDeviceAsync(ids, hostIds.address(), 44L * rows, stream);
            ops.embed(stream, embed, ids, B, X);
            if (positions != null) for (int i = 0; i < B; i++) ops.addPosition(stream, positions, P + 8L * i, 1, X + 4L * i * d);
            for (int l = 0; l < s.layers(); l++) {
                Layer L = layers[l];
                ops.batchMatvec(stream, L.qkv(), B, zeros, X, L.attnNorm(), L.attnNormBias(), eps, L.bqkv(), QKV, false, 0);
                ops.attentionDecodeRows(stream, QKV, qkvDim, ids + 12L * rows, (long) l * capacity * kvDim, B, rope, L.qNorm(), L.kNorm(), P, ATT,
                        s.heads(), s.kvHeads(), hd, rot, s.ropeInterleaved(), eps, s.slidingWindow(), ss[0].chunk, ss[0].nsplit);
                ops.batchMatvec(stream, L.o(), B, zeros, ATT, L.attnSubNorm(), 0, eps, L.bo(), X, true, 0);
                if (gated) ops.batchMatvec(stream, L.gateUp(), B, zeros, X, L.ffnNorm(), 0, eps, 0, GU, false, act);
                else ops.batchMatvec(stream, L.gateUp(), B, zeros, X, L.ffnNorm(), L.ffnNormBias(), eps, L.bUp(), GU, false, 3);
                ops.batchMatvec(stream, L.down(), B, zeros, GU, L.ffnSubNorm(), 0, eps, L.bDown(), X, true, 0);
            }
            ops.batchMatvec(stream, output, B, zeros, X, finalNorm, finalNormBias, eps, 0, LOGITS, false, 0);
            cx.driver.copyToHostAsync(hostLogits.address(), LOGITS, 4L * B * vocab, stream);
        }

        private void dropGraph() {
            if (graph[1] != 0) cx.driver.destroyGraph(graph[0], graph[1]);
            graph[0] = graph[1] = 0;
            company = null;
        }

        void free() {
            cx.makeCurrent();
            synchronized (cx.captureLock) {
                cx.driver.synchronize(stream);
                dropGraph();
                cx.driver.destroyStream(stream);
                arena.close();
            }
        }
    }

    /** One sequence: its KV cache and decode activations on the device. */
    static final class Session extends GraphSession {
        final CudaDecoder m;
        final long kc, vc, x, qkv, att, gu, part, count;
        final int chunk, nsplit;
        Prefill prefill;

        Session(CudaDecoder m) {
            super(m);
            this.m = m;
            DecoderSpec s = m.s;
            Arena a = arena;
            long kvBytes = (long) m.kvElement * s.layers() * m.capacity * m.kvDim;
            kc = cx.allocate(a, kvBytes);
            vc = cx.allocate(a, kvBytes);
            x = cx.allocate(a, 4L * s.dim());
            qkv = cx.allocate(a, 4L * m.qkvDim);
            att = cx.allocate(a, 4L * m.qDim);
            gu = cx.allocate(a, 4L * s.ffnDim()); // act(gate) · up
            chunk = CudaOps.decodeChunk(m.capacity);
            nsplit = (m.capacity + chunk - 1) / chunk;
            part = cx.allocate(a, 4L * s.heads() * nsplit * (s.headDim() + 2));
            count = cx.zeros(a, 4L * s.heads()); // per-head chunk counters
        }

        @Override
        void checkRoom(int n) {
            if (pos + n > m.capacity) throw new ModelException(contextMessage());
        }

        private String contextMessage() {
            return "the sequence reached the context length of " + m.capacity + " tokens"
                    + (m.capacity < m.s.context() ? " (the CUDA KV cache's limit; -Dpanamax.cuda.context raises it)" : "");
        }

        /** The decode step's launches on the session's stream (run eagerly, or recorded into the graph). */
        @Override
        void decodeStep() {
            DecoderSpec s = m.s;
            CudaOps ops = m.decodeOps;
            float eps = s.normEps();
            ops.embed(stream, m.embed, params + 4, 1, x);
            if (m.positions != null) ops.addPosition(stream, m.positions, params, 1, x);
            long layerKv = (long) m.kvElement * m.capacity * m.kvDim;
            int hd = s.headDim();
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                long kl = kc + l * layerKv, vl = vc + l * layerKv;
                if (!SKIP.contains("qkv")) ops.matvec(stream, L.qkv(), x, L.attnNorm(), L.attnNormBias(), 0, eps, L.bqkv(), qkv, false, false);
                if (!SKIP.contains("attn")) ops.attentionDecode(stream, qkv, kl, vl, m.rope, L.qNorm(), L.kNorm(), params, part, count, att, s.heads(),
                        s.kvHeads(), hd, m.rot, s.ropeInterleaved(), eps, s.slidingWindow(), chunk, nsplit);
                if (!SKIP.contains("o")) ops.matvec(stream, L.o(), att, L.attnSubNorm(), 0, eps, L.bo(), x, true);
                if (!SKIP.contains("gateup")) {
                    if (m.gated) ops.gatedMatvec(stream, L.gateUp(), x, L.ffnNorm(), eps, m.act, gu);
                    else ops.matvec(stream, L.gateUp(), x, L.ffnNorm(), L.ffnNormBias(), 0, eps, L.bUp(), gu, false, true);
                }
                if (!SKIP.contains("down")) ops.matvec(stream, L.down(), gu, L.ffnSubNorm(), 0, eps, L.bDown(), x, true);
            }
            if (!SKIP.contains("head")) ops.matvec(stream, m.output, x, m.finalNorm, m.finalNormBias, 0, eps, 0, logits, false, false);
        }

        /**
         * {@code -Dpanamax.cuda.skip=qkv,attn,o,gateup,down,head} (an experiment; the logits are then wrong):
         * the decode step leaves those launches out, so tokens/s against the full step says what each kind
         * of launch costs inside the graph, overlaps included (Nsight Compute times them one at a time).
         */
        static final java.util.Set<String> SKIP = java.util.Set.copyOf(java.util.Arrays.asList(
                java.util.Objects.requireNonNullElse(dev.panamax.simd.Tuning.experimentWord("cuda.skip"), "").split(",")));

        @Override
        float[] promptChunk(int[] tokens, float[] all, int from) {
            if (prefill == null) prefill = new Prefill(this);
            return prefill.run(tokens, all, from);
        }
    }

    /** A prompt's buffers (rows × width) and its launches: cuBLAS GEMMs, row kernels, attention. */
    static final class Prefill {
        final Session se;
        final CudaDecoder m;
        final CudaContext cx;
        final long X, XB, XB16, QKV, A, A16, GU, H, H16, part, tokens, params;

        Prefill(Session se) {
            this.se = se;
            this.m = se.m;
            this.cx = se.cx;
            DecoderSpec s = m.s;
            int R = PREFILL_ROWS;
            Arena a = se.arena;
            X = cx.allocate(a, 4L * R * s.dim());
            XB = cx.allocate(a, 4L * R * s.dim());
            XB16 = cx.allocate(a, 2L * R * s.dim());
            QKV = cx.allocate(a, 4L * R * m.qkvDim);
            A = cx.allocate(a, 4L * R * m.qDim);
            A16 = cx.allocate(a, 2L * R * m.qDim);
            GU = cx.allocate(a, 8L * R * s.ffnDim());
            H = cx.allocate(a, 4L * R * s.ffnDim());
            H16 = cx.allocate(a, 2L * R * s.ffnDim());
            part = cx.allocate(a, CudaOps.promptPartialBytes(R, s.heads(), s.headDim()));
            tokens = cx.allocate(a, 4L * R);
            params = cx.allocate(a, 8);
        }

        private void gemm(DeviceMatrix W, long in32, long in16, int T, long Y, boolean accumulate) {
            m.gemm(W, in32, in16, T, Y, accumulate);
        }

        private void rmsnormRows(long x, long w, long out, long out16, int T, int cols) {
            m.ops.rmsnormRows(m.cublasStream, x, w, out, out16, T, cols, m.s.normEps());
        }

        /** RMSNorm, or LayerNorm when b ≠ 0. */
        private void normRows(long x, long w, long b, long out, long out16, int T, int cols) {
            m.ops.normRows(m.cublasStream, x, w, b, out, out16, T, cols, m.s.normEps());
        }

        /** Runs T tokens at position se.pos; returns the last row's logits, and fills all[from + t] when given. */
        float[] run(int[] toks, float[] all, int from) {
            DecoderSpec s = m.s;
            int T = toks.length, d = s.dim(), f = s.ffnDim(), pos = se.pos;
            long st = m.cublasStream;
            cx.copyIn(tokens, MemorySegment.ofArray(toks));
            cx.copyIn(params, MemorySegment.ofArray(new int[] {pos, 0}));
            CudaOps ops = m.ops;
            ops.embed(st, m.embed, tokens, T, X);
            if (m.positions != null) ops.addPosition(st, m.positions, params, T, X);
            int n = pos + T;
            int chunk = Math.max(64, ((n + 7) / 8 + 63) / 64 * 64), nsplit = (n + chunk - 1) / chunk;
            long layerKv = (long) m.kvElement * m.capacity * m.kvDim;
            int hd = s.headDim();
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                long kl = se.kc + l * layerKv, vl = se.vc + l * layerKv;
                normRows(X, L.attnNorm(), L.attnNormBias(), XB, XB16, T, d);
                gemm(L.qkv(), XB, XB16, T, QKV, false);
                if (L.bqkv() != 0) ops.addBiasRows(st, QKV, L.bqkv(), T, m.qkvDim);
                ops.ropeStore(st, QKV, m.qkvDim, kl, vl, m.rope, L.qNorm(), L.kNorm(), params, T, s.heads(), s.kvHeads(), hd,
                        m.rot, s.ropeInterleaved(), s.normEps());
                ops.attention(st, QKV, m.qkvDim, kl, vl, part, params, T, s.heads(), s.kvHeads(), hd, s.slidingWindow(), chunk, nsplit, A);
                if (L.attnSubNorm() != 0) rmsnormRows(A, L.attnSubNorm(), A, A16, T, m.qDim);
                else if (L.o().halfInput()) ops.toF16(st, A, A16, (long) T * m.qDim);
                gemm(L.o(), A, A16, T, X, true);
                if (L.bo() != 0) ops.addBiasRows(st, X, L.bo(), T, d);
                normRows(X, L.ffnNorm(), L.ffnNormBias(), XB, XB16, T, d);
                if (m.gated) {
                    gemm(L.gateUp(), XB, XB16, T, GU, false);
                    ops.gateRows(st, GU, H, H16, T, f, m.act);
                } else {
                    gemm(L.gateUp(), XB, XB16, T, H, false);
                    ops.biasRows(st, H, L.bUp(), H16, T, f, true);
                }
                if (L.ffnSubNorm() != 0) rmsnormRows(H, L.ffnSubNorm(), H, H16, T, f);
                gemm(L.down(), H, H16, T, X, true);
                if (L.bDown() != 0) ops.addBiasRows(st, X, L.bDown(), T, d);
            }
            return se.promptLogits(m.output, m.finalNorm, m.finalNormBias, s.normEps(), X, XB, XB16, T, d, all, from);
        }
    }
}
