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
 * number of rows, and an image's result must not depend on its batch mates. From the second image
 * of a size on, the layers replay as one CUDA graph (the same launches, so the same bits). CLIP's
 * text tower stays on the CPU.
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
    /** The patch embedding on the device (ViT, DeiT, CLIP with its pre-layernorm), or null (the model's embedding on the CPU). */
    private final VisionSpec.PatchEmbedding patchEmbedding;
    private final DeviceMatrix patchW;
    private final long patchBias, embedNormW, embedNormB;
    private final EncoderBuffers buffers;
    private boolean closed;

    CudaVision(CudaContext cx, VisionSpec s, VisionModel cpu) {
        this.cx = cx;
        this.ops = new CudaOps(cx);
        this.s = s;
        this.cpu = cpu;
        prompt = new PromptGemm(cx, ops, weights);
        buffers = new EncoderBuffers(cx, s.dim(), s.ffnDim(), s.heads());
        try (Uploads up = cx.beginUploads()) {
            params = cx.upload(weights, MemorySegment.ofArray(new int[] {0, 0})); // every image's tokens start at position 0
            layers = new CudaEncoder.Layer[s.layerWeights().size()];
            for (int i = 0; i < layers.length; i++) layers[i] = CudaEncoder.Layer.upload(cx, weights, s.layerWeights().get(i), s.dim());
            patchEmbedding = dev.panamax.simd.Tuning.flag("cuda.cpuPatchEmbedding") ? null : s.stages().patchEmbedding();
            patchW = patchEmbedding == null ? null : DeviceMatrix.upload(cx, weights, patchEmbedding.projection());
            patchBias = patchEmbedding == null || patchEmbedding.bias() == null ? 0 : cx.upload(weights, patchEmbedding.bias());
            boolean norm = patchEmbedding != null && patchEmbedding.normWeight() != null;
            embedNormW = norm ? cx.upload(weights, patchEmbedding.normWeight()) : 0;
            embedNormB = norm ? cx.upload(weights, patchEmbedding.normBias()) : 0;
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
        return encode(List.of(pixels), height, width, Integer.MAX_VALUE);
    }

    @Override
    public float[] classify(float[] pixels, int height, int width) {
        return classify(List.of(pixels), height, width).get(0);
    }

    @Override
    public List<float[]> classify(List<float[]> images, int height, int width) {
        return s.stages().finish(encode(images, height, width, s.stages().rowsFinishReads()), images.size(), s.stages().tokens(height, width), false);
    }

    @Override
    public float[] embedImage(float[] pixels, int height, int width) {
        return embedImages(List.of(pixels), height, width).get(0);
    }

    @Override
    public List<float[]> embedImages(List<float[]> images, int height, int width) {
        return s.stages().finish(encode(images, height, width, s.stages().rowsFinishReads()), images.size(), s.stages().tokens(height, width), true);
    }

    /**
     * The last layer's output for each image, stacked [images · T, dim] — of each image only its
     * first {@code rowsKept} rows (the rows the heads read; the rest left zero and not downloaded).
     */
    private synchronized float[] encode(List<float[]> images, int height, int width, int rowsKept) {
        if (closed) throw new IllegalStateException("the model is closed");
        long tA = System.nanoTime();
        int T = s.stages().tokens(height, width), d = s.dim(), f = s.ffnDim(), heads = s.heads();
        // The patch embedding on the device where the model gives it (each image goes up as it is, is
        // cut into patches there, and a GEMM adds them to the base rows), else on the CPU (its tokens go up).
        float[] x = null;
        if (patchEmbedding == null) x = s.stages().embed(images, height, width); // checks every image's size
        else patchEmbedding.check(images, height, width);
        long tB = System.nanoTime();
        cx.makeCurrent();
        buffers.ensure(T);
        int N = T - (patchEmbedding == null ? 0 : patchEmbedding.prefix()), pixels = images.get(0).length;
        int cpp = patchEmbedding == null ? 0 : patchEmbedding.channels() * patchEmbedding.patch() * patchEmbedding.patch();
        if (patchEmbedding != null) {
            ensurePatches(T, N, cpp, pixels);
            cx.copyIn(base, MemorySegment.ofArray(patchEmbedding.base(height, width)));
        }
        int kept = Math.min(rowsKept, T);
        EncoderBuffers B = buffers;
        float eps = s.eps();
        long st = prompt.stream;
        int act = s.quickGelu() ? CudaOps.QUICK_GELU : CudaOps.GELU_ERF;
        List<float[]> outs = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            if (patchEmbedding == null) cx.copyIn(B.X, MemorySegment.ofArray(x).asSlice(4L * i * T * d, 4L * T * d));
            else cx.copyIn(image, MemorySegment.ofArray(images.get(i)));
            // What a graph's launches point at and are shaped by: the buffers (by generation: a new allocation may reuse an address) and the image size.
            String key = buffers.generation + " " + patchGeneration + " " + height + "x" + width;
            if (graph[1] != 0 && !key.equals(graphKey)) dropGraph();
            if (graph[1] == 0 && key.equals(ranKey) && !dev.panamax.simd.Tuning.flag("cuda.noGraph")) {
                synchronized (cx.captureLock) { // the second image of this size: its launches recorded once, replayed from then on
                    cx.driver.beginCapture(st);
                    try {
                        embedPatches(B.X, T, N, cpp, d, height, width);
                        layers(B, T, d, f, heads, eps, act);
                    } finally {
                        long[] g = cx.driver.endCaptureAndInstantiate(st);
                        graph[0] = g[0];
                        graph[1] = g[1];
                        graphKey = key;
                    }
                }
            }
            if (graph[1] != 0) {
                cx.driver.launchGraph(graph[1], st);
            } else {
                embedPatches(B.X, T, N, cpp, d, height, width); // the first image of a size: eagerly (cuBLAS and the scratch set up outside a capture)
                layers(B, T, d, f, heads, eps, act);
                ranKey = key;
            }
            long tC = System.nanoTime();
            cx.driver.synchronize(st);
            long tD = System.nanoTime();
            outs.add(cx.downloadFloats(B.X, kept * d));
            if (TIMING) System.err.printf("vision timing: embed %.0f us (all), launch %.0f us, sync %.0f us, download %.0f us%n", (tB - tA) / 1e3, (tC - tB) / 1e3, (tD - tC) / 1e3, (System.nanoTime() - tD) / 1e3);
            tB = System.nanoTime();
        }
        float[] hidden = new float[images.size() * T * d];
        for (int i = 0; i < outs.size(); i++) System.arraycopy(outs.get(i), 0, hidden, i * T * d, kept * d);
        return hidden;
    }

    /**
     * Every layer over the T rows in B.X, on the prompt stream (pre-LN: each sub-layer reads
     * N = LN(X) and adds to X) — about 150 launches and cuBLAS calls for ViT-B, recorded as one CUDA
     * graph from the second image of a size on ({@code -Dpanamax.cuda.noGraph=true}: never).
     */
    private void layers(EncoderBuffers B, int T, int d, int f, int heads, float eps, int act) {
        long st = prompt.stream;
        for (CudaEncoder.Layer L : layers) {
            ops.normRows(st, B.X, L.ln1w(), L.ln1b(), B.N, B.N16, T, d, eps);
            CudaEncoder.attend(ops, prompt, L, B, B.N, B.N16, params, T, d, heads);
            ops.normRows(st, B.X, L.ln2w(), L.ln2b(), B.N, B.N16, T, d, eps);
            CudaEncoder.feedForward(ops, prompt, L, B, B.N, B.N16, T, d, f, act);
        }
    }

    /** The graph of an image's launches and the key it was recorded for; the key of the last eager run. */
    private final long[] graph = new long[2];
    private String graphKey, ranKey;

    /** The device's patch-embedding buffers, for up to patchRows patches of patchCols values: the patches (and their halves), the base rows. */
    private Arena patchArena;
    private long image, patches, patches16, base;
    private int patchRows, patchCols, baseRows, imageFloats, patchGeneration;

    private void ensurePatches(int T, int N, int cpp, int pixels) {
        if (N <= patchRows && cpp <= patchCols && T <= baseRows && pixels <= imageFloats) return;
        if (patchArena != null) patchArena.close();
        patchArena = Arena.ofShared();
        patchRows = Math.max(N, patchRows);
        patchCols = Math.max(cpp, patchCols);
        baseRows = Math.max(T, baseRows);
        imageFloats = Math.max(pixels, imageFloats);
        image = cx.allocate(patchArena, 4L * imageFloats);
        patches = cx.allocate(patchArena, 4L * patchRows * patchCols);
        patches16 = cx.allocate(patchArena, 2L * patchRows * patchCols);
        base = cx.allocate(patchArena, 4L * baseRows * s.dim());
        patchGeneration++;
    }

    /**
     * X = base + [0 (prefix rows); patches·Wᵀ + b] on the prompt stream (nothing where the model's
     * embedding ran on the CPU and its tokens were copied into X).
     */
    private void embedPatches(long X, int T, int N, int cpp, int d, int height, int width) {
        if (patchEmbedding == null) return;
        long st = prompt.stream, rows = X + 4L * patchEmbedding.prefix() * d;
        ops.unfoldPatches(st, image, patchEmbedding.channels(), height, width, patchEmbedding.patch(), patches);
        cx.driver.copyDeviceAsync(X, base, 4L * T * d, st);
        if (patchW.halfInput()) ops.toF16(st, patches, patches16, (long) N * cpp);
        prompt.gemm(patchW, patches, patches16, N, rows, true);
        if (patchBias != 0) ops.addBiasRows(st, rows, patchBias, N, d);
        if (embedNormW != 0) ops.normRows(st, X, embedNormW, embedNormB, X, 0, T, d, s.eps()); // CLIP's pre-layernorm, in place
    }

    private static final boolean TIMING = dev.panamax.simd.Tuning.flag("cuda.visionTiming");

    private void dropGraph() {
        if (graph[1] != 0) cx.driver.destroyGraph(graph[0], graph[1]);
        graph[0] = graph[1] = 0;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cx.makeCurrent();
        cx.driver.synchronize(prompt.stream);
        dropGraph();
        if (patchArena != null) patchArena.close();
        prompt.close();
        buffers.close();
        weights.close();
        cpu.close();
    }
}
