package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Set;

/**
 * What every model on the GPU shares: the CPU model it came from (tokenizer, template, end ids), the
 * weights' arena, one cuBLAS handle on its own stream for prompts, the open sessions (freed when the
 * model closes), and {@link GraphSession}, a session whose decode step is captured once as a CUDA
 * graph and replayed per token. The architectures ({@link CudaDecoder}, {@link CudaSsm}) supply the
 * weights, the decode step's launches and the prompt's.
 */
abstract class CudaModel implements LanguageModel {
    static final int PREFILL_ROWS = dev.panamax.simd.Tuning.experiment("cuda.prefillRows", 512);
    private static final Cleaner CLEANER = Cleaner.create();

    final CudaContext cx;
    final CudaOps ops, decodeOps;
    final LanguageModel cpu;
    final Arena weights = Arena.ofShared();
    final int vocab;
    final PromptGemm prompt;
    final long cublasStream;
    private final Set<GraphSession> open = Collections.newSetFromMap(new java.util.WeakHashMap<>());
    private boolean closed;

    CudaModel(CudaContext cx, LanguageModel cpu, int vocab) {
        this(cx, cpu, vocab, false, false);
    }

    /** With {@code halfKv}, the attention kernels' KV cache holds half floats; with {@code sigmoid}, they weigh by sigmoid attention. */
    CudaModel(CudaContext cx, LanguageModel cpu, int vocab, boolean halfKv, boolean sigmoid) {
        this.cx = cx;
        this.ops = new CudaOps(cx, false, halfKv, sigmoid);
        this.decodeOps = new CudaOps(cx, true, halfKv, sigmoid);
        this.cpu = cpu;
        this.vocab = vocab;
        long t = System.nanoTime();
        prompt = new PromptGemm(cx, ops, weights);
        cublasStream = prompt.stream;
        cublasNanos = System.nanoTime() - t;
    }

    private final long cublasNanos;
    private String uploadNote;

    /** Records what the constructor's uploads took, for {@link #preparedNote}. */
    void uploaded(Uploads up) {
        long ns = up.elapsedNanos();
        uploadNote = String.format(java.util.Locale.ROOT, "on the GPU: %.2f GB of weights in %.0f ms (%.1f GB/s%s); CUDA set up in %.0f ms, cuBLAS in %.0f ms",
                up.bytes() / 1e9, ns / 1e6, up.bytes() / (double) ns, up.staged() ? ", staged" : "", CudaBackend.setupNanos / 1e6, cublasNanos / 1e6);
    }

    /** How long the weights took to reach the device (and at what rate): the GPU's part of the load line. */
    @Override
    public String preparedNote() {
        return uploadNote;
    }

    /** Frees what the constructor took when a subclass's upload fails, and rethrows. */
    RuntimeException failed(RuntimeException e) {
        prompt.close();
        weights.close();
        return e;
    }

    long opt(float[] v) {
        return v == null ? 0 : cx.upload(weights, v);
    }

    abstract GraphSession openSession();

    @Override
    public String architecture() {
        return cpu.architecture();
    }

    @Override
    public Tokenizer tokenizer() {
        return cpu.tokenizer();
    }

    @Override
    public String device() {
        return "cuda";
    }

    /** The CPU model's weights, as uploaded. */
    @Override
    public java.util.Map<String, Long> parametersByType() {
        return cpu.parametersByType();
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
        return vocab;
    }

    @Override
    public Session newSession() {
        synchronized (this) {
            if (closed) throw new IllegalStateException("the model is closed");
            GraphSession session = openSession();
            open.add(session);
            return session;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        for (GraphSession x : new ArrayList<>(open)) x.resources.run();
        open.clear();
        prompt.close();
        weights.close();
        cpu.close();
    }

    void checkTokens(int[] tokens) {
        if (tokens.length == 0) throw new ModelException("prefill needs at least one token");
        for (int t : tokens) checkToken(t);
    }

    void checkToken(int t) {
        if (t < 0 || t >= vocab) throw new ModelException("token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
    }

    /** Y[T × W.rows] (+)= in · Wᵀ on the prompt stream ({@link PromptGemm#gemm}); callers hold the model's lock. */
    void gemm(DeviceMatrix W, long in32, long in16, int T, long Y, boolean accumulate) {
        prompt.gemm(W, in32, in16, T, Y, accumulate);
    }

    /**
     * One sequence on the device. A decoded token is {@link #decodeStep()}'s launches: run eagerly on
     * the first step, captured as a CUDA graph on the second and replayed from then on, with the
     * position and token read from device memory ({@code params}: ints {position, token}). Its
     * memory lives in an arena closed when the session is closed, when the model closes, or when the
     * session becomes unreachable (a {@link Cleaner}), whichever is first: a server that closes its
     * finished sequences (the generation loop closes the sessions it opens) does not wait for a
     * garbage collection to get their KV caches back.
     */
    abstract static class GraphSession implements LanguageModel.Session, AutoCloseable {
        final CudaModel model;
        final CudaContext cx;
        final Arena arena;
        final Runnable resources;
        final long stream, params, logits;
        final MemorySegment hostParams, hostLogits;
        final float[] out;
        final long[] graph = new long[2];
        final int vocab;
        int pos, steps;
        private long allLogits, allLogitsRows;
        private volatile boolean closed;

        GraphSession(CudaModel m) {
            this.model = m;
            this.cx = m.cx;
            this.vocab = m.vocab;
            Arena a = Arena.ofShared();
            this.arena = a;
            long[] graphRef = graph;
            cx.makeCurrent();
            long st = cx.driver.createStream();
            this.stream = st;
            Runnable free = releaser(cx, st, graphRef, a);
            this.resources = free;
            CLEANER.register(this, free);
            params = cx.allocate(a, 8);
            hostParams = cx.allocateHost(a, 8);
            logits = cx.allocate(a, 4L * vocab);
            hostLogits = cx.allocateHost(a, 4L * vocab);
            out = new float[vocab];
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
                    synchronized (cx.captureLock) { // frees (cuMemFree) while no other thread captures a graph
                        cx.driver.synchronize(stream);
                        if (graph[1] != 0) cx.driver.destroyGraph(graph[0], graph[1]);
                        cx.driver.destroyStream(stream);
                        arena.close();
                    }
                }
            };
        }

        /** The step's kernels on {@link #stream}: the token at params + 4, the position at params, logits into {@link #logits}. */
        abstract void decodeStep();

        /**
         * Up to {@link #PREFILL_ROWS} tokens at position {@link #pos} on the prompt stream (the
         * caller holds the model's lock); returns the last row's logits, and fills all[from + t]
         * when all is given. Does not move {@link #pos}.
         */
        abstract float[] promptChunk(int[] tokens, float[] all, int from);

        /** Throws when {@code n} more tokens do not fit the session (a KV cache's capacity). */
        void checkRoom(int n) {}

        /** Throws once the session is closed: its device memory is gone. */
        void checkOpen() {
            if (closed) throw new IllegalStateException("this session has been closed");
        }

        /** Frees the session's device memory now; the session cannot be used afterwards. Idempotent. */
        @Override
        public void close() {
            closed = true;
            synchronized (model) {
                model.open.remove(this);
            }
            resources.run();
        }

        @Override
        public float[] forward(int token) {
            checkOpen();
            model.checkToken(token);
            checkRoom(1);
            return step(token);
        }

        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            checkOpen();
            model.checkTokens(tokens);
            checkRoom(tokens.length);
            if (tokens.length == 1 && !allLogits) return forward(tokens[0]);
            synchronized (model) { // one cuBLAS handle and stream per model
                cx.makeCurrent();
                float[] all = allLogits ? new float[tokens.length * vocab] : null;
                float[] last = null;
                for (int from = 0; from < tokens.length; from += PREFILL_ROWS) {
                    int T = Math.min(PREFILL_ROWS, tokens.length - from);
                    last = promptChunk(java.util.Arrays.copyOfRange(tokens, from, from + T), all, from);
                    pos += T;
                }
                if (!allLogits) return last;
                System.arraycopy(all, (tokens.length - 1) * vocab, out, 0, vocab);
                return all;
            }
        }

        /**
         * The output head after a prompt block X [T × d] on the prompt stream: the last row's logits
         * (through a matvec with the final norm fused; LayerNorm when finalNormBias ≠ 0) into {@link #out}, or, with all, every row's
         * (norm rows into XB/XB16, one GEMM) into all[from..] as well. Waits for the stream.
         */
        float[] promptLogits(DeviceMatrix output, long finalNorm, long finalNormBias, float eps, long X, long XB, long XB16, int T, int d,
                             float[] all, int from) {
            CudaModel m = model;
            long st = m.cublasStream;
            if (all == null) {
                m.ops.matvec(st, output, X + 4L * (T - 1) * d, finalNorm, finalNormBias, 0, eps, 0, logits, false, false);
                cx.driver.synchronize(st);
                System.arraycopy(cx.downloadFloats(logits, vocab), 0, out, 0, vocab);
                return out;
            }
            m.ops.normRows(st, X, finalNorm, finalNormBias, XB, XB16, T, d, eps);
            if (allLogitsRows < T) {
                allLogits = cx.allocate(arena, 4L * T * vocab);
                allLogitsRows = T;
            }
            m.gemm(output, XB, XB16, T, allLogits, false);
            cx.driver.synchronize(st);
            float[] got = cx.downloadFloats(allLogits, T * vocab);
            System.arraycopy(got, 0, all, from * vocab, T * vocab);
            System.arraycopy(got, (T - 1) * vocab, out, 0, vocab);
            return out;
        }

        @Override
        public int position() {
            return pos;
        }

        /** One decoded token's logits (the returned array is reused by the next call). */
        float[] step(int token) {
            cx.makeCurrent();
            hostParams.set(ValueLayout.JAVA_INT, 0, pos);
            hostParams.set(ValueLayout.JAVA_INT, 4, token);
            if (steps == 1 && !dev.panamax.simd.Tuning.flag("cuda.noGraph")) {
                synchronized (cx.captureLock) { // no context-wide synchronisation from other threads meanwhile
                    cx.driver.beginCapture(stream);
                    try {
                        launches();
                    } finally {
                        long[] g = cx.driver.endCaptureAndInstantiate(stream);
                        graph[0] = g[0];
                        graph[1] = g[1];
                    }
                }
            }
            if (graph[1] != 0) cx.driver.launchGraph(graph[1], stream);
            else launches();
            cx.driver.synchronize(stream);
            MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, 0, out, 0, vocab);
            pos++;
            steps++;
            return out;
        }

        private void launches() {
            cx.driver.copyToDeviceAsync(params, hostParams.address(), 8, stream);
            decodeStep();
            cx.driver.copyToHostAsync(hostLogits.address(), logits, 4L * vocab, stream);
        }
    }
}
