package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.DecoderSpec;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Llama-family model resident on the GPU: weights uploaded once (W_q|W_k|W_v stacked, W_gate and
 * W_up with their rows interleaved, quantized ones kept quantized), per session a KV cache and activations on the device.
 * A decoded token is one CUDA graph replay: the step (embedding, per layer QKV with the RMSNorm
 * fused, RoPE + cache store, split-K attention, W_o with the residual, gate/up, down with SiLU-gate
 * fused and the residual, the final norm and logits) is captured once per session and replayed with
 * the token and position read from device memory. A prompt runs as matrix-matrix work through cuBLAS.
 */
final class CudaDecoder implements LanguageModel {
    static final int PREFILL_ROWS = Integer.getInteger("panamax.cuda.prefillRows", 512);
    static final int MAX_CONTEXT = Integer.getInteger("panamax.cuda.context", 16384);
    private static final Cleaner CLEANER = Cleaner.create();

    final CudaContext cx;
    final CudaOps ops, decodeOps;
    final DecoderSpec s;
    final LanguageModel cpu;
    final Arena weights = Arena.ofShared();
    final DeviceMatrix embed, output;
    final long finalNorm, rope;
    final Layer[] layers;
    final int qDim, kvDim, qkvDim, capacity, act;
    final Set<Session> open = Collections.newSetFromMap(new java.util.WeakHashMap<>());
    private final long cublasStream;
    private final Cublas cublas;
    private boolean closed;

    /** One layer on the device; pointers are 0 where the architecture has no such vector. */
    record Layer(long attnNorm, DeviceMatrix qkv, long bqkv, long qNorm, long kNorm, DeviceMatrix o, long attnSubNorm,
                 long ffnNorm, DeviceMatrix gateUp, DeviceMatrix down, long ffnSubNorm) {}

    CudaDecoder(CudaContext cx, DecoderSpec s, LanguageModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.decodeOps = new CudaOps(cx, true);
        this.s = s;
        this.cpu = cpu;
        qDim = s.heads() * s.headDim();
        kvDim = s.kvHeads() * s.headDim();
        qkvDim = qDim + 2 * kvDim;
        capacity = Math.min(s.context(), MAX_CONTEXT);
        act = s.activation().equals("relu2") ? 2 : 1;
        try {
            Map<Tensor, DeviceMatrix> uploaded = new IdentityHashMap<>();
            embed = DeviceMatrix.upload(cx, weights, s.embed());
            uploaded.put(s.embed(), embed);
            output = uploaded.computeIfAbsent(s.output(), t -> DeviceMatrix.upload(cx, weights, t)); // tied: the same table
            finalNorm = cx.upload(weights, s.finalNorm());
            rope = cx.upload(weights, CudaOps.ropeTable(s.invFreq(), capacity));
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
                layers[i] = new Layer(cx.upload(weights, L.attnNorm()), DeviceMatrix.upload(cx, weights, L.wq(), L.wk(), L.wv()), bias,
                        opt(L.qNorm()), opt(L.kNorm()), DeviceMatrix.upload(cx, weights, L.wo()), opt(L.attnSubNorm()),
                        cx.upload(weights, L.ffnNorm()), DeviceMatrix.uploadInterleaved(cx, weights, L.gate(), L.up()),
                        DeviceMatrix.upload(cx, weights, L.down()), opt(L.ffnSubNorm()));
            }
            cublasStream = cx.driver.createStream();
            cublas = new Cublas(cx, cublasStream);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private long opt(float[] v) {
        return v == null ? 0 : cx.upload(weights, v);
    }

    /** Bytes of weights on the device. */
    long weightBytes() {
        long b = embed.bytes + (output != embed ? output.bytes : 0);
        for (Layer L : layers) b += L.qkv.bytes + L.o.bytes + L.gateUp.bytes + L.down.bytes;
        return b;
    }

    @Override
    public String architecture() {
        return cpu.architecture();
    }

    @Override
    public Tokenizer tokenizer() {
        return cpu.tokenizer();
    }

    @Override
    public String chatTemplate() {
        return cpu.chatTemplate();
    }

    @Override
    public int[] endIds() {
        return cpu.endIds();
    }

    @Override
    public int vocabSize() {
        return s.vocab();
    }

    @Override
    public int contextLength() {
        return capacity;
    }

    @Override
    public Session newSession() {
        synchronized (this) {
            if (closed) throw new IllegalStateException("the model is closed");
            Session session = new Session(this);
            open.add(session);
            return session;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        for (Session x : new ArrayList<>(open)) x.resources.run();
        open.clear();
        cublas.close();
        cx.driver.destroyStream(cublasStream);
        weights.close();
        cpu.close();
    }

    /** y (+)= W · in(x) (see {@link CudaOps#matvec} for act and the fused norm {@code nw}). */
    void matvec(long stream, DeviceMatrix W, long x, long nw, int act, long bias, long y, boolean accumulate) {
        ops.matvec(stream, W, x, nw, act, s.normEps(), bias, y, accumulate);
    }

    /**
     * One sequence on the device. Its memory lives in an arena closed when the model closes or when
     * the session becomes unreachable (a {@link Cleaner}), whichever is first.
     */
    static final class Session implements LanguageModel.Session {
        final CudaDecoder m;
        final CudaContext cx;
        final Arena arena;
        final Runnable resources;
        final long stream, kc, vc, x, qkv, att, gu, logits, part, count, params;
        final MemorySegment hostParams, hostLogits;
        final int chunk, nsplit;
        final float[] out;
        final long[] graph = new long[2];
        Prefill prefill;
        int pos, steps;

        Session(CudaDecoder m) {
            this.m = m;
            this.cx = m.cx;
            DecoderSpec s = m.s;
            Arena a = Arena.ofShared();
            this.arena = a;
            long[] graphRef = graph;
            cx.makeCurrent();
            long st = cx.driver.createStream();
            this.stream = st;
            Runnable free = releaser(cx, st, graphRef, a);
            this.resources = free;
            CLEANER.register(this, free);
            long kvBytes = 4L * s.layers() * m.capacity * m.kvDim;
            kc = cx.allocate(a, kvBytes);
            vc = cx.allocate(a, kvBytes);
            x = cx.allocate(a, 4L * s.dim());
            qkv = cx.allocate(a, 4L * m.qkvDim);
            att = cx.allocate(a, 4L * m.qDim);
            gu = cx.allocate(a, 4L * s.ffnDim()); // act(gate) · up
            logits = cx.allocate(a, 4L * s.vocab());
            // Split-K decode: chunks of at least 64 keys (a block's four warps take 8 each at a time),
            // at most 64 of them.
            chunk = Math.max(64, ((m.capacity + 63) / 64 + 63) / 64 * 64);
            nsplit = (m.capacity + chunk - 1) / chunk;
            part = cx.allocate(a, 4L * s.heads() * nsplit * (s.headDim() + 2));
            count = cx.upload(a, new float[s.heads()]); // zero ints
            params = cx.allocate(a, 8);
            hostParams = cx.allocateHost(a, 8);
            hostLogits = cx.allocateHost(a, 4L * s.vocab());
            out = new float[s.vocab()];
        }

        /** Frees a session's device resources once; built outside the session so the cleaner does not keep it reachable. */
        private static Runnable releaser(CudaContext cx, long stream, long[] graph, Arena arena) {
            return new Runnable() {
                private boolean done;

                @Override
                public synchronized void run() {
                    if (done) return;
                    done = true;
                    cx.makeCurrent();
                    cx.driver.synchronize(stream);
                    if (graph[1] != 0) cx.driver.destroyGraph(graph[0], graph[1]);
                    cx.driver.destroyStream(stream);
                    arena.close();
                }
            };
        }

        @Override
        public int position() {
            return pos;
        }

        @Override
        public float[] forward(int token) {
            DecoderSpec s = m.s;
            if (token < 0 || token >= s.vocab()) throw new ModelException("token id " + token + " is outside the vocabulary (0.." + (s.vocab() - 1) + ")");
            if (pos >= m.capacity) throw new ModelException(contextMessage());
            cx.makeCurrent();
            hostParams.set(ValueLayout.JAVA_INT, 0, pos);
            hostParams.set(ValueLayout.JAVA_INT, 4, token);
            // The first step runs eagerly (kernels loaded, attributes set); the second is captured as a
            // graph, which every later step replays.
            if (steps == 1 && !Boolean.getBoolean("panamax.cuda.noGraph")) {
                cx.driver.beginCapture(stream);
                try {
                    decodeStep();
                } finally {
                    long[] g = cx.driver.endCaptureAndInstantiate(stream);
                    graph[0] = g[0];
                    graph[1] = g[1];
                }
            }
            if (graph[1] != 0) cx.driver.launchGraph(graph[1], stream);
            else decodeStep();
            cx.driver.synchronize(stream);
            MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, 0, out, 0, s.vocab());
            pos++;
            steps++;
            return out;
        }

        private String contextMessage() {
            return "the sequence reached the context length of " + m.capacity + " tokens"
                    + (m.capacity < m.s.context() ? " (the CUDA KV cache's limit; -Dpanamax.cuda.context raises it)" : "");
        }

        /** The decode step's launches on the session's stream (run eagerly, or recorded into the graph). */
        private void decodeStep() {
            DecoderSpec s = m.s;
            var d = cx.driver;
            d.copyToDeviceAsync(params, hostParams.address(), 8, stream);
            CudaOps ops = m.decodeOps;
            float eps = s.normEps();
            ops.embed(stream, m.embed, params + 4, 1, x);
            long layerKv = 4L * m.capacity * m.kvDim;
            int hd = s.headDim();
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                long kl = kc + l * layerKv, vl = vc + l * layerKv;
                ops.matvec(stream, L.qkv(), x, L.attnNorm(), 0, eps, L.bqkv(), qkv, false);
                ops.attentionDecode(stream, qkv, kl, vl, m.rope, L.qNorm(), L.kNorm(), params, part, count, att, s.heads(), s.kvHeads(), hd,
                        s.ropeInterleaved(), eps, s.slidingWindow(), chunk, nsplit);
                ops.matvec(stream, L.o(), att, L.attnSubNorm(), 0, eps, 0, x, true);
                ops.gatedMatvec(stream, L.gateUp(), x, L.ffnNorm(), eps, m.act, gu);
                ops.matvec(stream, L.down(), gu, L.ffnSubNorm(), 0, eps, 0, x, true);
            }
            ops.matvec(stream, m.output, x, m.finalNorm, 0, eps, 0, logits, false);
            d.copyToHostAsync(hostLogits.address(), logits, 4L * s.vocab(), stream);
        }

        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            DecoderSpec s = m.s;
            if (tokens.length == 0) throw new ModelException("prefill needs at least one token");
            if (pos + tokens.length > m.capacity) throw new ModelException(contextMessage());
            for (int t : tokens) {
                if (t < 0 || t >= s.vocab()) throw new ModelException("token id " + t + " is outside the vocabulary (0.." + (s.vocab() - 1) + ")");
            }
            if (tokens.length == 1 && !allLogits) return forward(tokens[0]);
            synchronized (m) { // one cuBLAS handle and stream per model
                return prefillChunks(tokens, allLogits);
            }
        }

        private float[] prefillChunks(int[] tokens, boolean allLogits) {
            DecoderSpec s = m.s;
            cx.makeCurrent();
            if (prefill == null) prefill = new Prefill(this);
            float[] all = allLogits ? new float[tokens.length * s.vocab()] : null;
            float[] last = null;
            for (int from = 0; from < tokens.length; from += PREFILL_ROWS) {
                int T = Math.min(PREFILL_ROWS, tokens.length - from);
                last = prefill.run(java.util.Arrays.copyOfRange(tokens, from, from + T), all, from);
                pos += T;
            }
            if (!allLogits) return last;
            System.arraycopy(all, (tokens.length - 1) * s.vocab(), out, 0, s.vocab());
            return all;
        }
    }

    /** A prompt's buffers (rows × width) and its launches: cuBLAS GEMMs, row kernels, attention. */
    static final class Prefill {
        final Session se;
        final CudaDecoder m;
        final CudaContext cx;
        final long X, XB, XB16, QKV, A, A16, GU, H, H16, part, tokens, params, rowLogits;
        long scratch16, scratchBytes, allLogits, allLogitsRows;

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
            part = cx.allocate(a, 4L * R * s.heads() * 8 * (s.headDim() + 2));
            tokens = cx.allocate(a, 4L * R);
            params = cx.allocate(a, 8);
            rowLogits = cx.allocate(a, 4L * s.vocab());
        }

        /** Y[T × W.rows] (+)= in · Wᵀ: F32 weights by SGEMM on the float rows, others by GemmEx on half rows. */
        private void gemm(DeviceMatrix W, long in32, long in16, int T, long Y, boolean accumulate) {
            long stream = m.cublasStream;
            switch (W.format) {
                case DeviceMatrix.F32 -> m.cublas.gemmRowMajorNT(T, W.rows, W.cols, W.pointer, in32, Cublas.R_32F, Y, accumulate);
                case DeviceMatrix.F16 -> m.cublas.gemmRowMajorNT(T, W.rows, W.cols, W.pointer, in16, Cublas.R_16F, Y, accumulate);
                default -> {
                    long need = 2L * W.rows * W.cols;
                    if (need > scratchBytes) {
                        scratch16 = cx.allocate(se.arena, need);
                        scratchBytes = need;
                    }
                    m.ops.dequantF16(stream, W, scratch16);
                    m.cublas.gemmRowMajorNT(T, W.rows, W.cols, scratch16, in16, Cublas.R_16F, Y, accumulate);
                }
            }
        }

        private void rmsnormRows(long x, long w, long out, long out16, int T, int cols) {
            m.ops.rmsnormRows(m.cublasStream, x, w, out, out16, T, cols, m.s.normEps());
        }

        /** Runs T tokens at position se.pos; returns the last row's logits, and fills all[from + t] when given. */
        float[] run(int[] toks, float[] all, int from) {
            DecoderSpec s = m.s;
            int T = toks.length, d = s.dim(), f = s.ffnDim(), pos = se.pos;
            long st = m.cublasStream;
            var drv = cx.driver;
            cx.copyIn(tokens, MemorySegment.ofArray(toks));
            cx.copyIn(params, MemorySegment.ofArray(new int[] {pos, 0}));
            CudaOps ops = m.ops;
            ops.embed(st, m.embed, tokens, T, X);
            int n = pos + T;
            int chunk = Math.max(64, ((n + 7) / 8 + 63) / 64 * 64), nsplit = (n + chunk - 1) / chunk;
            long layerKv = 4L * m.capacity * m.kvDim;
            int hd = s.headDim();
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                long kl = se.kc + l * layerKv, vl = se.vc + l * layerKv;
                rmsnormRows(X, L.attnNorm(), XB, XB16, T, d);
                gemm(L.qkv(), XB, XB16, T, QKV, false);
                if (L.bqkv() != 0) ops.addBiasRows(st, QKV, L.bqkv(), T, m.qkvDim);
                ops.ropeStore(st, QKV, m.qkvDim, kl, vl, m.rope, L.qNorm(), L.kNorm(), params, T, s.heads(), s.kvHeads(), hd,
                        s.ropeInterleaved(), s.normEps());
                ops.attention(st, QKV, m.qkvDim, kl, vl, part, params, T, s.heads(), s.kvHeads(), hd, s.slidingWindow(), chunk, nsplit, A);
                if (L.attnSubNorm() != 0) rmsnormRows(A, L.attnSubNorm(), A, A16, T, m.qDim);
                else if (L.o().format != DeviceMatrix.F32) ops.toF16(st, A, A16, (long) T * m.qDim);
                gemm(L.o(), A, A16, T, X, true);
                rmsnormRows(X, L.ffnNorm(), XB, XB16, T, d);
                gemm(L.gateUp(), XB, XB16, T, GU, false);
                ops.gateRows(st, GU, H, H16, T, f, m.act);
                if (L.ffnSubNorm() != 0) rmsnormRows(H, L.ffnSubNorm(), H, H16, T, f);
                gemm(L.down(), H, H16, T, X, true);
            }
            float[] last = se.out;
            if (all == null) {
                m.matvec(st, m.output, X + 4L * (T - 1) * d, m.finalNorm, 0, 0, rowLogits, false);
                drv.synchronize(st);
                MemorySegment.copy(MemorySegment.ofArray(cx.downloadFloats(rowLogits, s.vocab())), ValueLayout.JAVA_FLOAT, 0, last, 0, s.vocab());
                return last;
            }
            rmsnormRows(X, m.finalNorm, XB, XB16, T, d);
            if (allLogitsRows < T) {
                allLogits = cx.allocate(se.arena, 4L * T * s.vocab());
                allLogitsRows = T;
            }
            gemm(m.output, XB, XB16, T, allLogits, false);
            drv.synchronize(st);
            float[] got = cx.downloadFloats(allLogits, T * s.vocab());
            System.arraycopy(got, 0, all, from * s.vocab(), T * s.vocab());
            System.arraycopy(got, (T - 1) * s.vocab(), last, 0, s.vocab());
            return last;
        }
    }
}
