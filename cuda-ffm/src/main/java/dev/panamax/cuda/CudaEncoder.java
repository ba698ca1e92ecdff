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
    private Arena buffers;
    private int rows;
    private long X, X16, QKV, K, V, A, A16, H, H16, part, tokens;
    private boolean closed;

    record Layer(DeviceMatrix qkv, long bqkv, DeviceMatrix o, long bo, long ln1w, long ln1b, DeviceMatrix in, long bin, DeviceMatrix out,
                 long bout, long ln2w, long ln2b) {}

    CudaEncoder(CudaContext cx, EncoderSpec s, EncoderModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.s = s;
        this.cpu = cpu;
        prompt = new PromptGemm(cx, ops, weights);
        try {
            word = DeviceMatrix.upload(cx, weights, s.word());
            position = DeviceMatrix.upload(cx, weights, s.position());
            type0 = cx.upload(weights, s.type0());
            embNorm = cx.upload(weights, s.embNorm());
            embNormBias = cx.upload(weights, s.embNormBias());
            params = cx.upload(weights, MemorySegment.ofArray(new int[] {0, 0})); // prompts start at position 0
            layers = new Layer[s.layers()];
            for (int i = 0; i < s.layers(); i++) {
                EncoderSpec.Layer L = s.layerWeights().get(i);
                int d = s.dim();
                float[] b = new float[3 * d];
                System.arraycopy(L.bq(), 0, b, 0, d);
                System.arraycopy(L.bk(), 0, b, d, d);
                System.arraycopy(L.bv(), 0, b, 2 * d, d);
                layers[i] = new Layer(DeviceMatrix.upload(cx, weights, L.wq(), L.wk(), L.wv()), cx.upload(weights, b),
                        DeviceMatrix.upload(cx, weights, L.wo()), cx.upload(weights, L.bo()), cx.upload(weights, L.ln1w()),
                        cx.upload(weights, L.ln1b()), DeviceMatrix.upload(cx, weights, L.win()), cx.upload(weights, L.bin()),
                        DeviceMatrix.upload(cx, weights, L.wout()), cx.upload(weights, L.bout()), cx.upload(weights, L.ln2w()),
                        cx.upload(weights, L.ln2b()));
            }
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

    /** Activations for T rows (kept for the longest input so far). */
    private void buffers(int T) {
        if (T <= rows) return;
        if (buffers != null) buffers.close();
        buffers = Arena.ofShared();
        Arena a = buffers;
        long d = s.dim(), f = s.ffnDim(), hd = d / s.heads();
        X = cx.allocate(a, 4 * T * d);
        X16 = cx.allocate(a, 2 * T * d);
        QKV = cx.allocate(a, 12 * T * d);
        K = cx.allocate(a, 4 * T * d);
        V = cx.allocate(a, 4 * T * d);
        A = cx.allocate(a, 4 * T * d);
        A16 = cx.allocate(a, 2 * T * d);
        H = cx.allocate(a, 4 * T * f);
        H16 = cx.allocate(a, 2 * T * f);
        part = cx.allocate(a, 4 * T * s.heads() * 8 * (hd + 2));
        tokens = cx.allocate(a, 4L * T);
        rows = T;
    }

    @Override
    public synchronized float[] encode(int[] ids) {
        if (closed) throw new IllegalStateException("the model is closed");
        int T = ids.length, d = s.dim(), f = s.ffnDim(), heads = s.heads(), hd = d / heads;
        if (T == 0) throw new ModelException("nothing to encode: no tokens");
        if (T > s.positions()) throw new ModelException(T + " tokens do not fit BERT's " + s.positions() + " positions");
        for (int id : ids) {
            if (id < 0 || id >= s.vocab()) throw new ModelException("token id " + id + " is outside the vocabulary (0.." + (s.vocab() - 1) + ")");
        }
        cx.makeCurrent();
        buffers(T);
        float eps = s.normEps();
        long st = prompt.stream;
        cx.copyIn(tokens, MemorySegment.ofArray(ids));
        ops.embed(st, word, tokens, T, X);
        ops.addPosition(st, position, params, T, X);
        ops.addBiasRows(st, X, type0, T, d);
        ops.normRows(st, X, embNorm, embNormBias, X, X16, T, d, eps);
        int chunk = Math.max(64, ((T + 7) / 8 + 63) / 64 * 64), nsplit = (T + chunk - 1) / chunk;
        for (Layer L : layers) {
            prompt.gemm(L.qkv(), X, X16, T, QKV, false);
            ops.addBiasRows(st, QKV, L.bqkv(), T, 3 * d);
            ops.ropeStore(st, QKV, 3 * d, K, V, 0, 0, 0, params, T, heads, heads, hd, 0, false, eps); // no rotation: k, v stored
            ops.attention(st, QKV, 3 * d, K, V, part, params, T, heads, heads, hd, 0, chunk, nsplit, A, T);
            if (L.o().halfInput()) ops.toF16(st, A, A16, (long) T * d);
            prompt.gemm(L.o(), A, A16, T, X, true);
            ops.addBiasRows(st, X, L.bo(), T, d);
            ops.normRows(st, X, L.ln1w(), L.ln1b(), X, X16, T, d, eps);
            prompt.gemm(L.in(), X, X16, T, H, false);
            ops.biasRows(st, H, L.bin(), H16, T, f, CudaOps.GELU_ERF);
            prompt.gemm(L.out(), H, H16, T, X, true);
            ops.addBiasRows(st, X, L.bout(), T, d);
            ops.normRows(st, X, L.ln2w(), L.ln2b(), X, X16, T, d, eps);
        }
        cx.driver.synchronize(st);
        return cx.downloadFloats(X, T * d);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        cx.driver.synchronize(prompt.stream);
        prompt.close();
        if (buffers != null) buffers.close();
        weights.close();
        cpu.close();
    }
}
