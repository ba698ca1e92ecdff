package dev.panamax.models;

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
                 float[] ln2w, float[] ln2b, Tensor w1, float[] b1, Tensor w2, float[] b2) {}

    /** The feed-forward activation. */
    enum Activation { GELU, QUICK_GELU }

    /** The encoder's shape. */
    record Shape(int dim, int heads, int ffnDim, float eps, Activation act, boolean causal) {}

    /** x [T, dim] through {@code layers}, in place; matrices read in the CPU's layout ({@link Weights#cpu}). */
    static void run(Kernels k, Weights w, float[] x, int T, Shape s, Layer[] layers) {
        int d = s.dim();
        float[] n = new float[T * d], q = new float[T * d], kk = new float[T * d], v = new float[T * d], a = new float[T * d], o = new float[T * d];
        float[] h = new float[T * s.ffnDim()];
        for (Layer L : layers) {
            for (int t = 0; t < T; t++) k.layernorm(n, t * d, x, t * d, L.ln1w(), L.ln1b(), d, s.eps());
            Linear.apply(k, w.cpu(L.wq()), n, T, L.bq(), q);
            Linear.apply(k, w.cpu(L.wk()), n, T, L.bk(), kk);
            Linear.apply(k, w.cpu(L.wv()), n, T, L.bv(), v);
            Linear.attendAll(k, q, kk, v, a, T, d, s.heads(), s.causal());
            Linear.apply(k, w.cpu(L.wo()), a, T, L.bo(), o);
            k.add(x, 0, o, 0, x, 0, T * d);
            for (int t = 0; t < T; t++) k.layernorm(n, t * d, x, t * d, L.ln2w(), L.ln2b(), d, s.eps());
            Linear.apply(k, w.cpu(L.w1()), n, T, L.b1(), h);
            if (s.act() == Activation.GELU) k.geluErf(h, 0, h.length);
            else for (int i = 0; i < h.length; i++) h[i] = (float) (h[i] / (1 + Math.exp(-1.702f * h[i])));
            Linear.apply(k, w.cpu(L.w2()), h, T, L.b2(), o);
            k.add(x, 0, o, 0, x, 0, T * d);
        }
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

    /** A convolution weight [D, C, P, P] as the matrix [D, C·P·P] over {@link #patches}, in the model's layout. */
    static Tensor patchMatrix(Weights w, String name, int D, int C, int P) {
        Tensor conv = w.get(name).expect(D, C, P, P);
        return w.matrix(new Tensor(conv.name(), conv.type(), new long[] {D, (long) C * P * P}, conv.data()));
    }
}
