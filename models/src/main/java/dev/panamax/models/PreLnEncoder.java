package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;

/**
 * The pre-LN transformer encoder that ViT, DeiT and both of CLIP's towers share: for each layer
 *
 * <pre>
 *   h  = x + W_o·Attention(W_q·n + b_q, W_k·n + b_k, W_v·n + b_v) + b_o,   n = LayerNorm(x)   (all tokens, or causal)
 *   x' = h + W_2·act(W_1·m + b_1) + b_2,                                  m = LayerNorm(h)
 * </pre>
 *
 * with act GELU (erf) for ViT and DeiT, QuickGELU (x·σ(1.702x)) for CLIP. Also the unfolding of an
 * image into patches that their patch embeddings multiply.
 */
final class PreLnEncoder {
    private PreLnEncoder() {}

    /** One layer's weights; norms and biases on the heap. */
    record Layer(float[] ln1w, float[] ln1b, Tensor wq, float[] bq, Tensor wk, float[] bk, Tensor wv, float[] bv, Tensor wo, float[] bo,
                 float[] ln2w, float[] ln2b, Tensor w1, float[] b1, Tensor w2, float[] b2) {
        /** The same weights as a backend takes them ({@link dev.panamax.runtime.backend.VisionSpec}). */
        dev.panamax.runtime.backend.EncoderSpec.Layer asEncoderLayer() {
            return new dev.panamax.runtime.backend.EncoderSpec.Layer(wq, bq, wk, bk, wv, bv, wo, bo, ln1w, ln1b, w1, b1, w2, b2, ln2w, ln2b);
        }
    }

    /** The feed-forward activation. */
    enum Activation { GELU, QUICK_GELU }

    /** The encoder's shape. */
    record Shape(int dim, int heads, int ffnDim, float eps, Activation act, boolean causal) {}

    /**
     * Rows of stacked sequences one pass through the layers takes (whole sequences; a longer one goes
     * alone): ViT-B/16's 197-token images ran at 0.86–0.98× their one-at-a-time speed when all
     * sixteen went through each layer together — their activations outgrow the caches, and the GEMM
     * has nothing to gain past 197 rows — and at 1.00× two at a time, while sixteen 17-token images
     * in one pass run 1.7× (Zen 5, docs/benchmarks.md). Since the GEMM takes a long k in chunks, two
     * such images a pass ran 0.87–0.88× (their wider panels cut into shorter chunks; Intel Xeon), one
     * 0.98–0.99×, so a pass takes 256 rows: one ViT-B/16 image, fifteen 17-token ones (1.33× either way).
     * {@code -Dpanamax.visionPassRows}; a speed setting, the bits do not depend on it.
     */
    static final int PASS_ROWS = dev.panamax.simd.Tuning.speed("visionPassRows", 256);

    /** x [T, dim] through {@code layers}, in place; matrices read in the CPU's layout ({@link Weights#cpu}). */
    static void run(Kernels k, Weights w, float[] x, int T, Shape s, Layer[] layers) {
        run(k, w, x, T, 1, s, layers);
    }

    /**
     * x [items·T, dim] — {@code items} sequences of T tokens stacked (a batch of images) — through
     * {@code layers}, in place. Each linear layer is one stacked product over all of them
     * ({@link Linear#applyStacked}), attention stays within each sequence, and every sequence comes
     * out bit for bit as it does alone: norms per row, elementwise work per sequence.
     */
    static void run(Kernels k, Weights w, float[] x, int T, int items, Shape s, Layer[] layers) {
        int group = Math.max(1, PASS_ROWS / T);
        if (items > group) { // a few sequences a pass: their activations stay near the caches (each sequence's bits are its own anyway)
            int d = s.dim();
            for (int i0 = 0; i0 < items; i0 += group) {
                int n = Math.min(group, items - i0);
                float[] part = java.util.Arrays.copyOfRange(x, i0 * T * d, (i0 + n) * T * d);
                run(k, w, part, T, n, s, layers);
                System.arraycopy(part, 0, x, i0 * T * d, part.length);
            }
            return;
        }
        int d = s.dim(), rows = items * T, f = s.ffnDim();
        float[] n = new float[rows * d], q = new float[rows * d], kk = new float[rows * d], v = new float[rows * d], a = new float[rows * d], o = new float[rows * d];
        float[] h = new float[rows * f];
        for (Layer L : layers) {
            for (int t = 0; t < rows; t++) k.layernorm(n, t * d, x, t * d, L.ln1w(), L.ln1b(), d, s.eps());
            Linear.applyStacked(k, w.cpu(L.wq()), n, rows, T, L.bq(), q);
            Linear.applyStacked(k, w.cpu(L.wk()), n, rows, T, L.bk(), kk);
            Linear.applyStacked(k, w.cpu(L.wv()), n, rows, T, L.bv(), v);
            Linear.attendAll(k, q, kk, v, a, T, items, d, s.heads(), s.causal());
            Linear.applyStacked(k, w.cpu(L.wo()), a, rows, T, L.bo(), o);
            for (int i = 0; i < items; i++) k.add(x, i * T * d, o, i * T * d, x, i * T * d, T * d);
            for (int t = 0; t < rows; t++) k.layernorm(n, t * d, x, t * d, L.ln2w(), L.ln2b(), d, s.eps());
            Linear.applyStacked(k, w.cpu(L.w1()), n, rows, T, L.b1(), h);
            for (int i = 0; i < items; i++) { // per sequence: a vector kernel's tail falls where it falls alone
                if (s.act() == Activation.GELU) k.geluErf(h, i * T * f, T * f);
                else for (int j = i * T * f; j < (i + 1) * T * f; j++) h[j] = (float) (h[j] / (1 + Math.exp(-1.702f * h[j])));
            }
            Linear.applyStacked(k, w.cpu(L.w2()), h, rows, T, L.b2(), o);
            for (int i = 0; i < items; i++) k.add(x, i * T * d, o, i * T * d, x, i * T * d, T * d);
        }
    }

    /**
     * Checks a pixel tensor [C, H, W] before it is cut into patches: its length, and at least one
     * patch each way (a size that is not a whole number of patches loses its last pixels, as the
     * patch convolution of transformers does).
     */
    static void checkImage(float[] pixels, int C, int H, int W, int P) {
        if (H < P || W < P) throw new ModelException("a " + H + "×" + W + " image is smaller than one " + P + "×" + P + " patch");
        if (pixels.length != (long) C * H * W) {
            throw new ModelException(pixels.length + " pixel values for a [" + C + ", " + H + ", " + W + "] image (" + (long) C * H * W + " expected)");
        }
    }

    /**
     * The embedded tokens of a batch of images of one size [C, H, W], stacked: [items·T, dim] with
     * T = prefix + patches — per image the {@code prefix} rows (class token, DeiT's distillation
     * token), then each patch times the patch embedding (plus {@code patchBias} where not null),
     * all plus the position embeddings resized to the image's grid ({@link #positionsFor}; the
     * model's {@code positions} were trained on a g × g grid). The patch embedding is one stacked
     * product, each image's rows as they are alone.
     */
    static float[] embedImages(Kernels k, Weights w, java.util.List<float[]> images, int C, int H, int W, int P, Tensor patchProj, float[] patchBias,
                               float[][] prefix, float[] positions, int g, int dim) {
        if (images.isEmpty()) throw new ModelException("no images");
        for (float[] image : images) checkImage(image, C, H, W, P);
        int items = images.size(), N = (H / P) * (W / P), T = prefix.length + N, cpp = C * P * P;
        float[] patches = new float[items * N * cpp];
        for (int i = 0; i < items; i++) System.arraycopy(patches(images.get(i), C, H, W, P), 0, patches, i * N * cpp, N * cpp);
        float[] embedded = new float[items * N * dim];
        Linear.applyStacked(k, w.cpu(patchProj), patches, items * N, N, patchBias, embedded);
        float[] pos = positionsFor(positions, prefix.length, g, dim, H / P, W / P);
        float[] x = new float[items * T * dim];
        for (int i = 0; i < items; i++) {
            int o = i * T * dim;
            for (int r = 0; r < prefix.length; r++) System.arraycopy(prefix[r], 0, x, o + r * dim, dim);
            System.arraycopy(embedded, i * N * dim, x, o + prefix.length * dim, N * dim);
            k.add(x, o, pos, 0, x, o, T * dim);
        }
        return x;
    }

    /**
     * {@link #embedImages} split for a backend that multiplies the patches itself: the unfolded
     * patches, and base = the prefix rows plus their positions, then the patch rows' positions.
     */
    static dev.panamax.runtime.backend.VisionSpec.PatchEmbedding patchEmbedding(Tensor patchProj, float[] patchBias, float[][] prefix, float[] positions,
                                                                               int C, int P, int g, int dim) {
        return patchEmbedding(patchProj, patchBias, prefix, positions, C, P, g, dim, null, null);
    }

    /** As above, every token then through a LayerNorm of weight {@code normW} and bias {@code normB} (the encoder's eps; CLIP). */
    static dev.panamax.runtime.backend.VisionSpec.PatchEmbedding patchEmbedding(Tensor patchProj, float[] patchBias, float[][] prefix, float[] positions,
                                                                               int C, int P, int g, int dim, float[] normW, float[] normB) {
        return new dev.panamax.runtime.backend.VisionSpec.PatchEmbedding() {
            @Override public float[] normWeight() { return normW; }
            @Override public float[] normBias() { return normB; }
            @Override public Tensor projection() { return patchProj; }
            @Override public float[] bias() { return patchBias; }
            @Override public int prefix() { return prefix.length; }
            @Override public int channels() { return C; }
            @Override public int patch() { return P; }

            @Override
            public void check(java.util.List<float[]> images, int H, int W) {
                if (images.isEmpty()) throw new ModelException("no images");
                for (float[] image : images) checkImage(image, C, H, W, P);
            }

            @Override
            public float[] patches(java.util.List<float[]> images, int H, int W) {
                check(images, H, W);
                int N = (H / P) * (W / P), cpp = C * P * P;
                float[] out = new float[images.size() * N * cpp];
                for (int i = 0; i < images.size(); i++) System.arraycopy(PreLnEncoder.patches(images.get(i), C, H, W, P), 0, out, i * N * cpp, N * cpp);
                return out;
            }

            @Override
            public float[] base(int H, int W) {
                float[] base = positionsFor(positions, prefix.length, g, dim, H / P, W / P).clone();
                for (int r = 0; r < prefix.length; r++)
                    for (int i = 0; i < dim; i++) base[r * dim + i] = prefix[r][i] + base[r * dim + i];
                return base;
            }
        };
    }

    /**
     * The image [C, H, W] cut into P×P patches, row-major, each flattened as a convolution's weight
     * [D, C, P, P] is (channel, row, column): [N, C·P·P], which the patch embedding multiplies as a matrix.
     */
    static float[] patches(float[] pixels, int C, int H, int W, int P) {
        int gh = H / P, gw = W / P, cpp = C * P * P;
        float[] out = new float[gh * gw * cpp];
        for (int py = 0; py < gh; py++) {
            for (int px = 0; px < gw; px++) {
                int o = (py * gw + px) * cpp;
                for (int ch = 0; ch < C; ch++) {
                    for (int ky = 0; ky < P; ky++) System.arraycopy(pixels, (ch * H + py * P + ky) * W + px * P, out, o + (ch * P + ky) * P, P);
                }
            }
        }
        return out;
    }

    /**
     * The position embeddings for a grid of gh × gw patches when the model was trained on a square
     * grid of g × g, as transformers computes them with {@code interpolate_pos_encoding=True}: the
     * {@code prefix} rows (class, distillation token) as they are, the patch rows as an image
     * [dim, g, g] resized by {@link #bicubic} to [dim, gh, gw]. The trained grid gives the embeddings
     * themselves. {@code positions} is [prefix + g·g, dim]; the result [prefix + gh·gw, dim].
     */
    static float[] positionsFor(float[] positions, int prefix, int g, int dim, int gh, int gw) {
        if (gh == g && gw == g) return positions;
        float[] out = new float[(prefix + gh * gw) * dim];
        System.arraycopy(positions, 0, out, 0, prefix * dim);
        float[] plane = new float[g * g], resized = new float[gh * gw];
        for (int c = 0; c < dim; c++) {
            for (int i = 0; i < g * g; i++) plane[i] = positions[(prefix + i) * dim + c];
            bicubic(plane, g, g, resized, gh, gw);
            for (int i = 0; i < gh * gw; i++) out[(prefix + i) * dim + c] = resized[i];
        }
        return out;
    }

    /**
     * PyTorch's {@code F.interpolate(mode="bicubic", align_corners=False)} of one plane [h, w] to
     * [oh, ow] (no antialiasing): output pixel (y, x) samples the source at ((y + ½)·h/oh − ½,
     * (x + ½)·w/ow − ½) with Keys' cubic convolution, a = −0.75, over the 4 × 4 nearest pixels,
     * indices clamped to the edges. Not PIL's bicubic of {@code dev.panamax.runtime.image} (that one
     * antialiases when shrinking and rounds to 8 bits): this is the resize transformers applies to
     * position embeddings.
     */
    static void bicubic(float[] in, int h, int w, float[] out, int oh, int ow) {
        float sy = (float) h / oh, sx = (float) w / ow;
        int[] x0 = new int[ow];
        float[][] wx = new float[ow][];
        for (int x = 0; x < ow; x++) {
            float rx = sx * (x + 0.5f) - 0.5f;
            x0[x] = (int) Math.floor(rx);
            wx[x] = cubicWeights(rx - x0[x]);
        }
        for (int y = 0; y < oh; y++) {
            float ry = sy * (y + 0.5f) - 0.5f;
            int y0 = (int) Math.floor(ry);
            float[] wy = cubicWeights(ry - y0);
            for (int x = 0; x < ow; x++) {
                float sum = 0;
                for (int i = 0; i < 4; i++) {
                    int row = Math.clamp(y0 - 1 + i, 0, h - 1) * w;
                    float line = 0;
                    for (int j = 0; j < 4; j++) line += wx[x][j] * in[row + Math.clamp(x0[x] - 1 + j, 0, w - 1)];
                    sum += wy[i] * line;
                }
                out[y * ow + x] = sum;
            }
        }
    }

    /** Keys' cubic convolution weights (a = −0.75) of the pixels at −1, 0, 1, 2 for a sample t ∈ [0, 1) past pixel 0. */
    private static float[] cubicWeights(float t) {
        final float a = -0.75f;
        return new float[] {near(t + 1, a), close(t, a), close(1 - t, a), near(2 - t, a)};
    }

    /** The kernel for |x| ≤ 1: (a + 2)|x|³ − (a + 3)|x|² + 1. */
    private static float close(float x, float a) {
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    }

    /** The kernel for 1 < |x| < 2: a|x|³ − 5a|x|² + 8a|x| − 4a. */
    private static float near(float x, float a) {
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }

    /** A convolution weight [D, C, P, P] as the matrix [D, C·P·P] over {@link #patches}, in the model's layout. */
    static Tensor patchMatrix(Weights w, String name, int D, int C, int P) {
        Tensor conv = w.get(name).expect(D, C, P, P);
        return w.matrix(new Tensor(conv.name(), conv.type(), new long[] {D, (long) C * P * P}, conv.data()));
    }
}
