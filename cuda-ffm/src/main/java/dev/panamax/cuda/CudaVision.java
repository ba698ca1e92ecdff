package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.EncoderSpec;
import dev.panamax.runtime.backend.VisionSpec;
import dev.panamax.runtime.model.VisionModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An image model's encoder layers resident on the GPU (ViT, DeiT, CLIP's image tower; equations in
 * {@link VisionSpec}): per image, its tokens (embedded on the CPU by the model) go up, every layer
 * runs as cuBLAS GEMMs (W_q|W_k|W_v stacked), LayerNorm, bias and activation row kernels and the
 * prompt attention kernels with every row seeing all T keys, and the last layer's output comes
 * back for the model's heads. Images go one at a time: cuBLAS may choose its algorithm by the
 * number of rows, and an image's result must not depend on its batch mates. CLIP's text tower stays
 * on the CPU.
 */
final class CudaVision implements VisionModel {
    final CudaContext cx;
    final CudaOps ops;
    final VisionSpec s;
    final VisionModel cpu;
    final Arena weights = Arena.ofShared();
    final PromptGemm prompt;
    final long params;
    final Layer[] layers;
    private Arena buffers;
    private int rows;
    private long X, N, N16, QKV, K, V, A, A16, H, H16, part;
    private boolean closed;

    record Layer(DeviceMatrix qkv, long bqkv, DeviceMatrix o, long bo, long ln1w, long ln1b, DeviceMatrix in, long bin, DeviceMatrix out,
                 long bout, long ln2w, long ln2b) {}

    CudaVision(CudaContext cx, VisionSpec s, VisionModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.s = s;
        this.cpu = cpu;
        prompt = new PromptGemm(cx, ops, weights);
        try {
            params = cx.upload(weights, MemorySegment.ofArray(new int[] {0, 0})); // every image's tokens start at position 0
            layers = new Layer[s.layerWeights().size()];
            int d = s.dim();
            for (int i = 0; i < layers.length; i++) {
                EncoderSpec.Layer L = s.layerWeights().get(i);
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

    @Override public String architecture() { return cpu.architecture(); }
    @Override public Tokenizer tokenizer() { return cpu.tokenizer(); }
    @Override public String device() { return "cuda"; }
    @Override public java.util.Map<String, Long> parametersByType() { return cpu.parametersByType(); }
    @Override public int imageSize() { return cpu.imageSize(); }
    @Override public int channels() { return cpu.channels(); }
    @Override public List<String> labels() { return cpu.labels(); }
    @Override public int hiddenSize() { return cpu.hiddenSize(); }
    @Override public float logitScale() { return cpu.logitScale(); }
    @Override public float[] embedText(String text) { return cpu.embedText(text); }

    @Override
    public float[] hiddenStates(float[] pixels, int height, int width) {
        return encode(List.of(pixels), height, width);
    }

    @Override
    public float[] classify(float[] pixels, int height, int width) {
        return classify(List.of(pixels), height, width).get(0);
    }

    @Override
    public List<float[]> classify(List<float[]> images, int height, int width) {
        return s.stages().finish(encode(images, height, width), images.size(), s.stages().tokens(height, width), false);
    }

    @Override
    public float[] embedImage(float[] pixels, int height, int width) {
        return embedImages(List.of(pixels), height, width).get(0);
    }

    @Override
    public List<float[]> embedImages(List<float[]> images, int height, int width) {
        return s.stages().finish(encode(images, height, width), images.size(), s.stages().tokens(height, width), true);
    }

    /** The last layer's output for each image, stacked [images · T, dim]. */
    private synchronized float[] encode(List<float[]> images, int height, int width) {
        if (closed) throw new IllegalStateException("the model is closed");
        float[] x = s.stages().embed(images, height, width); // checks every image's size
        int T = s.stages().tokens(height, width), d = s.dim(), f = s.ffnDim(), heads = s.heads(), hd = d / heads;
        cx.makeCurrent();
        buffers(T);
        float eps = s.eps();
        long st = prompt.stream;
        int chunk = Math.max(64, ((T + 7) / 8 + 63) / 64 * 64), nsplit = (T + chunk - 1) / chunk;
        List<float[]> outs = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            cx.copyIn(X, MemorySegment.ofArray(x).asSlice(4L * i * T * d, 4L * T * d));
            for (Layer L : layers) {
                ops.normRows(st, X, L.ln1w(), L.ln1b(), N, N16, T, d, eps);
                prompt.gemm(L.qkv(), N, N16, T, QKV, false);
                ops.addBiasRows(st, QKV, L.bqkv(), T, 3 * d);
                ops.ropeStore(st, QKV, 3 * d, K, V, 0, 0, 0, params, T, heads, heads, hd, 0, false, eps); // no rotation: k, v stored
                ops.attention(st, QKV, 3 * d, K, V, part, params, T, heads, heads, hd, 0, chunk, nsplit, A, T);
                if (L.o().halfInput()) ops.toF16(st, A, A16, (long) T * d);
                prompt.gemm(L.o(), A, A16, T, X, true);
                ops.addBiasRows(st, X, L.bo(), T, d);
                ops.normRows(st, X, L.ln2w(), L.ln2b(), N, N16, T, d, eps);
                prompt.gemm(L.in(), N, N16, T, H, false);
                ops.biasRows(st, H, L.bin(), H16, T, f, s.quickGelu() ? CudaOps.QUICK_GELU : CudaOps.GELU_ERF);
                prompt.gemm(L.out(), H, H16, T, X, true);
                ops.addBiasRows(st, X, L.bout(), T, d);
            }
            cx.driver.synchronize(st);
            outs.add(cx.downloadFloats(X, T * d));
        }
        float[] hidden = new float[images.size() * T * d];
        for (int i = 0; i < outs.size(); i++) System.arraycopy(outs.get(i), 0, hidden, i * T * d, T * d);
        return hidden;
    }

    /** Activations for T rows (kept for the largest image so far). */
    private void buffers(int T) {
        if (T <= rows) return;
        if (buffers != null) buffers.close();
        buffers = Arena.ofShared();
        Arena a = buffers;
        long d = s.dim(), f = s.ffnDim(), hd = d / s.heads();
        X = cx.allocate(a, 4 * T * d);
        N = cx.allocate(a, 4 * T * d);
        N16 = cx.allocate(a, 2 * T * d);
        QKV = cx.allocate(a, 12 * T * d);
        K = cx.allocate(a, 4 * T * d);
        V = cx.allocate(a, 4 * T * d);
        A = cx.allocate(a, 4 * T * d);
        A16 = cx.allocate(a, 2 * T * d);
        H = cx.allocate(a, 4 * T * f);
        H16 = cx.allocate(a, 2 * T * f);
        part = cx.allocate(a, 4 * T * s.heads() * 8 * (hd + 2));
        rows = T;
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
