package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
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
    final CudaEncoder.Layer[] layers;
    private final EncoderBuffers buffers;
    private boolean closed;

    CudaVision(CudaContext cx, VisionSpec s, VisionModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.s = s;
        this.cpu = cpu;
        prompt = new PromptGemm(cx, ops, weights);
        buffers = new EncoderBuffers(cx, s.dim(), s.ffnDim(), s.heads());
        try {
            params = cx.upload(weights, MemorySegment.ofArray(new int[] {0, 0})); // every image's tokens start at position 0
            layers = new CudaEncoder.Layer[s.layerWeights().size()];
            for (int i = 0; i < layers.length; i++) layers[i] = CudaEncoder.Layer.upload(cx, weights, s.layerWeights().get(i), s.dim());
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
        int T = s.stages().tokens(height, width), d = s.dim(), f = s.ffnDim(), heads = s.heads();
        cx.makeCurrent();
        buffers.ensure(T);
        EncoderBuffers B = buffers;
        float eps = s.eps();
        long st = prompt.stream;
        int act = s.quickGelu() ? CudaOps.QUICK_GELU : CudaOps.GELU_ERF;
        List<float[]> outs = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            cx.copyIn(B.X, MemorySegment.ofArray(x).asSlice(4L * i * T * d, 4L * T * d));
            for (CudaEncoder.Layer L : layers) { // pre-LN: each sub-layer reads N = LN(X) and adds to X
                ops.normRows(st, B.X, L.ln1w(), L.ln1b(), B.N, B.N16, T, d, eps);
                CudaEncoder.attend(ops, prompt, L, B, B.N, B.N16, params, T, d, heads);
                ops.normRows(st, B.X, L.ln2w(), L.ln2b(), B.N, B.N16, T, d, eps);
                CudaEncoder.feedForward(ops, prompt, L, B, B.N, B.N16, T, d, f, act);
            }
            cx.driver.synchronize(st);
            outs.add(cx.downloadFloats(B.X, T * d));
        }
        float[] hidden = new float[images.size() * T * d];
        for (int i = 0; i < outs.size(); i++) System.arraycopy(outs.get(i), 0, hidden, i * T * d, T * d);
        return hidden;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        cx.driver.synchronize(prompt.stream);
        prompt.close();
        buffers.close();
        weights.close();
        cpu.close();
    }
}
