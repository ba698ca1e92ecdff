package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.EncoderSpec;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A BERT encoder resident on the GPU (equations in {@link EncoderSpec}): an input is one block of T
 * rows — the projections as cuBLAS GEMMs (W_q|W_k|W_v stacked), bidirectional attention by the
 * prompt attention kernels with every row seeing all T keys, LayerNorms and GELU as row kernels.
 * The activations are kept for the longest input so far and freed with the model.
 */
final class CudaEncoder implements EncoderModel {
    final CudaContext cx;
    final CudaOps ops;
    final EncoderSpec s;
    final EncoderModel cpu;
    final Arena weights = Arena.ofShared();
    final PromptGemm prompt;
    final DeviceMatrix word, position;
    final long type0, embNorm, embNormBias, params;
    final Layer[] layers;
    private final EncoderBuffers buffers;
    private boolean closed;

    /** A layer's weights on the device, q|k|v stacked into one matrix and one bias. */
    record Layer(DeviceMatrix qkv, long bqkv, DeviceMatrix o, long bo, long ln1w, long ln1b, DeviceMatrix in, long bin, DeviceMatrix out,
                 long bout, long ln2w, long ln2b) {

        static Layer upload(CudaContext cx, Arena weights, EncoderSpec.Layer L, int d) {
            float[] b = new float[3 * d];
            System.arraycopy(L.bq(), 0, b, 0, d);
            System.arraycopy(L.bk(), 0, b, d, d);
            System.arraycopy(L.bv(), 0, b, 2 * d, d);
            return new Layer(DeviceMatrix.upload(cx, weights, L.wq(), L.wk(), L.wv()), cx.upload(weights, b),
                    DeviceMatrix.upload(cx, weights, L.wo()), cx.upload(weights, L.bo()), cx.upload(weights, L.ln1w()),
                    cx.upload(weights, L.ln1b()), DeviceMatrix.upload(cx, weights, L.win()), cx.upload(weights, L.bin()),
                    DeviceMatrix.upload(cx, weights, L.wout()), cx.upload(weights, L.bout()), cx.upload(weights, L.ln2w()),
                    cx.upload(weights, L.ln2b()));
        }
    }

    CudaEncoder(CudaContext cx, EncoderSpec s, EncoderModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.s = s;
        this.cpu = cpu;
        prompt = new PromptGemm(cx, ops, weights);
        buffers = new EncoderBuffers(cx, s.dim(), s.ffnDim(), s.heads());
        try (Uploads up = cx.beginUploads()) {
            word = DeviceMatrix.upload(cx, weights, s.word());
            position = DeviceMatrix.upload(cx, weights, s.position());
            type0 = cx.upload(weights, s.type0());
            embNorm = cx.upload(weights, s.embNorm());
            embNormBias = cx.upload(weights, s.embNormBias());
            params = cx.upload(weights, MemorySegment.ofArray(new int[] {0, 0})); // prompts start at position 0
            layers = new Layer[s.layers()];
            for (int i = 0; i < s.layers(); i++) layers[i] = Layer.upload(cx, weights, s.layerWeights().get(i), s.dim());
        } catch (RuntimeException e) {
            prompt.close();
            weights.close();
            throw e;
        }
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
    public String device() {
        return "cuda";
    }

    /** The CPU model's weights, as uploaded. */
    @Override
    public java.util.Map<String, Long> parametersByType() {
        return cpu.parametersByType();
    }

    @Override
    public int hiddenSize() {
        return s.dim();
    }

    @Override
    public int maxPositions() {
        return s.positions();
    }

    @Override
    public synchronized float[] encode(int[] ids) {
        if (closed) throw new IllegalStateException("the model is closed");
        int T = ids.length, d = s.dim(), f = s.ffnDim(), heads = s.heads();
        if (T == 0) throw new ModelException("nothing to encode: no tokens");
        if (T > s.positions()) throw new ModelException(T + " tokens do not fit BERT's " + s.positions() + " positions");
        for (int id : ids) {
            if (id < 0 || id >= s.vocab()) throw new ModelException("token id " + id + " is outside the vocabulary (0.." + (s.vocab() - 1) + ")");
        }
        cx.makeCurrent();
        buffers.ensure(T);
        EncoderBuffers B = buffers;
        float eps = s.normEps();
        long st = prompt.stream;
        cx.copyIn(B.tokens, MemorySegment.ofArray(ids));
        // The launches read the tokens from B.tokens, so an input of a length seen before replays the graph
        // recorded for that length: the same launches, the same bits (launch-bound for short inputs: about
        // 10 launches and cuBLAS calls a layer). Graphs point at the buffers: new buffers, new graphs.
        if (buffers.generation != graphGeneration) {
            dropGraphs();
            graphGeneration = buffers.generation;
        }
        long[] g = graphs.get(T);
        if (g == null && ran.contains(T) && !dev.panamax.simd.Tuning.flag("cuda.noGraph")) {
            synchronized (cx.captureLock) { // the second input of this length: recorded once, replayed from then on
                cx.driver.beginCapture(st);
                try {
                    launches(T, d, f, heads, eps);
                } finally {
                    g = cx.driver.endCaptureAndInstantiate(st);
                    graphs.put(T, g);
                }
            }
            if (graphs.size() > GRAPHS) {
                var eldest = graphs.entrySet().iterator().next();
                cx.driver.destroyGraph(eldest.getValue()[0], eldest.getValue()[1]);
                graphs.remove(eldest.getKey());
            }
        }
        if (g != null) cx.driver.launchGraph(g[1], st);
        else {
            launches(T, d, f, heads, eps); // the first input of a length: eagerly (cuBLAS and the scratch set up outside a capture)
            ran.add(T);
        }
        cx.driver.synchronize(st);
        return cx.downloadFloats(B.X, T * d);
    }

    /** An input's launches on the prompt stream: embeddings, then the post-LN layers over its T rows. */
    private void launches(int T, int d, int f, int heads, float eps) {
        EncoderBuffers B = buffers;
        long st = prompt.stream;
        ops.embed(st, word, B.tokens, T, B.X);
        ops.addPosition(st, position, params, T, B.X);
        ops.addBiasRows(st, B.X, type0, T, d);
        ops.normRows(st, B.X, embNorm, embNormBias, B.X, B.X16, T, d, eps);
        for (Layer L : layers) { // post-LN: each sub-layer's input is X itself
            attend(ops, prompt, L, B, B.X, B.X16, params, T, d, heads);
            ops.normRows(st, B.X, L.ln1w(), L.ln1b(), B.X, B.X16, T, d, eps);
            feedForward(ops, prompt, L, B, B.X, B.X16, T, d, f, CudaOps.GELU_ERF);
            ops.normRows(st, B.X, L.ln2w(), L.ln2b(), B.X, B.X16, T, d, eps);
        }
    }

    /** Graphs kept, the most recently used lengths. */
    static final int GRAPHS = 16;
    /** Graphs of an input's launches by its length (access order: the eldest is the least recently used); lengths run eagerly once. */
    private final java.util.LinkedHashMap<Integer, long[]> graphs = new java.util.LinkedHashMap<>(32, 0.75f, true);
    private final java.util.Set<Integer> ran = new java.util.HashSet<>();
    private int graphGeneration = -1;

    private void dropGraphs() {
        for (long[] g : graphs.values()) cx.driver.destroyGraph(g[0], g[1]);
        graphs.clear();
    }

    /**
     * X += W_o·MHA(W_qkv·n + b_qkv) + b_o over T rows, every row seeing all T keys: n given as
     * floats and halves ({@code in32}, {@code in16}), the keys and values stored from position 0.
     */
    static void attend(CudaOps ops, PromptGemm prompt, Layer L, EncoderBuffers B, long in32, long in16, long params, int T, int d, int heads) {
        long st = prompt.stream;
        int hd = d / heads, chunk = Math.max(64, ((T + 7) / 8 + 63) / 64 * 64), nsplit = (T + chunk - 1) / chunk; // at most 8 key chunks
        prompt.gemm(L.qkv(), in32, in16, T, B.QKV, false);
        ops.addBiasRows(st, B.QKV, L.bqkv(), T, 3 * d);
        ops.ropeStore(st, B.QKV, 3 * d, B.K, B.V, 0, 0, 0, params, T, heads, heads, hd, 0, false, 0f); // no rotation: k, v stored
        ops.attention(st, B.QKV, 3 * d, B.K, B.V, B.part, params, T, heads, heads, hd, 0, chunk, nsplit, B.A, T);
        if (L.o().halfInput()) ops.toF16(st, B.A, B.A16, (long) T * d);
        prompt.gemm(L.o(), B.A, B.A16, T, B.X, true);
        ops.addBiasRows(st, B.X, L.bo(), T, d);
    }

    /** X += W_out·act(W_in·m + b_in) + b_out over T rows, m given as floats and halves. */
    static void feedForward(CudaOps ops, PromptGemm prompt, Layer L, EncoderBuffers B, long in32, long in16, int T, int d, int f, int act) {
        long st = prompt.stream;
        prompt.gemm(L.in(), in32, in16, T, B.H, false);
        ops.biasRows(st, B.H, L.bin(), B.H16, T, f, act);
        prompt.gemm(L.out(), B.H, B.H16, T, B.X, true);
        ops.addBiasRows(st, B.X, L.bout(), T, d);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        cx.driver.synchronize(prompt.stream);
        dropGraphs();
        prompt.close();
        buffers.close();
        weights.close();
        cpu.close();
    }
}
