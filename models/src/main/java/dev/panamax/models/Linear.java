package dev.panamax.models;

import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import java.util.function.IntConsumer;

/**
 * The pieces every architecture's layer function shares: a linear layer over a block of T tokens
 * (T = 1 when decoding), and per-token work spread over the threads. The kernel is chosen here,
 * not by a second copy of the layer: one token takes the matrix-vector product (the decode fast
 * path), a block the tiled GEMM.
 */
final class Linear {
    private Linear() {}

    /** out[t] = W·in[t] for the T rows of {@code in} ([T, cols] → [T, rows]), no bias. */
    static void apply(Kernels k, Tensor w, float[] in, int T, float[] out) {
        if (T == 1) w.matvec(k, in, out);
        else w.matmul(k, in, T, out);
    }

    /** out[t] = W·in[t] + b for the T rows of {@code in} (the encoders' linear layers, with bias). */
    static void apply(Kernels k, Tensor w, float[] in, int T, float[] bias, float[] out) {
        apply(k, w, in, T, out);
        int rows = w.rows();
        for (int t = 0; t < T; t++) k.add(out, t * rows, bias, 0, out, t * rows, rows);
    }

    /**
     * out[t] = W·in[t] + b for T rows stacked from T / itemRows items (a batch of images): each
     * item's rows bit for bit what {@link #apply(Kernels, Tensor, float[], int, float[], float[])}
     * gives that item alone, W read once for several items. {@code bias} may be null (none).
     */
    static void applyStacked(Kernels k, Tensor w, float[] in, int T, int itemRows, float[] bias, float[] out) {
        if (itemRows == 1) { // one row alone takes the matrix-vector product: so does each item here
            float[] x = new float[w.cols()], y = new float[w.rows()];
            for (int t = 0; t < T; t++) {
                System.arraycopy(in, t * x.length, x, 0, x.length);
                w.matvec(k, x, y);
                System.arraycopy(y, 0, out, t * y.length, y.length);
            }
        } else {
            w.matmul(k, in, T, itemRows, out);
        }
        if (bias == null) return;
        int rows = w.rows();
        for (int t = 0; t < T; t++) k.add(out, t * rows, bias, 0, out, t * rows, rows);
    }

    /**
     * outs[i][t] = ws[i]·in[t] for matrices over the same input (q, k, v; gate, up): one token in one
     * parallel pass with the input quantized once ({@link Tensor#matvec(Kernels, float[], Tensor[], float[][])}),
     * a block one GEMM each.
     */
    static void apply(Kernels k, Tensor[] ws, float[] in, int T, float[][] outs) {
        apply(k, ws, in, T, false, outs);
    }

    /**
     * As above; with {@code decodeRows} the T rows belong to T sequences' decoding steps, and each
     * is computed as decoding computes it ({@link Tensor#matvecBatch}: bit for bit, the weights
     * read once), never by the prompt GEMM, whose sums are ordered differently.
     */
    static void apply(Kernels k, Tensor[] ws, float[] in, int T, boolean decodeRows, float[][] outs) {
        if (T == 1) {
            Tensor.matvec(k, in, ws, outs);
            return;
        }
        if (decodeRows) {
            Tensor.matvecBatch(k, in, T, ws, outs);
            return;
        }
        for (int i = 0; i < ws.length; i++) ws[i].matmul(k, in, T, outs[i]);
    }

    /**
     * Whether {@code w}'s products quantize the activations per token (BitNet's ternary formats): a
     * prompt through such a matrix goes token by token, as the model was trained, not through a GEMM.
     */
    static boolean quantizesActivationsPerToken(Tensor w) {
        return switch (w.type()) {
            case TERNARY, TQ2_0, TQ1_0 -> true;
            default -> false;
        };
    }

    /**
     * Multi-head attention of T tokens over each other (encoders: ViT, CLIP's towers), q, k, v and
     * out [T, dim] with {@code heads} heads: softmax(q·kᵀ/√d)·v per head, over every token, or with
     * {@code causal} over the tokens up to each one; the heads in parallel.
     */
    static void attendAll(Kernels k, float[] q, float[] kk, float[] v, float[] out, int T, int dim, int heads, boolean causal) {
        attendAll(k, q, kk, v, out, T, 1, dim, heads, causal);
    }

    /**
     * Whether {@link #attendAll} multiplies each head's scores and mixture as two small GEMMs (S = Q·Kᵀ,
     * then P·V) instead of a dot product and an axpy per pair of tokens ({@code -Dpanamax.gemmAttention=false}:
     * the pairs, for measuring; ViT-B/16's 197 tokens make 38 809 pairs a head).
     */
    static final boolean GEMM_ATTENTION = dev.panamax.simd.Tuning.flagOn("gemmAttention");

    /** As above for {@code items} sequences of T tokens stacked in q, k, v and out ([items·T, dim]), each attending within itself. */
    static void attendAll(Kernels k, float[] q, float[] kk, float[] v, float[] out, int T, int items, int dim, int heads, boolean causal) {
        int hd = dim / heads;
        float scale = (float) (1 / Math.sqrt(hd));
        if (GEMM_ATTENTION) {
            attendAllGemm(k, q, kk, v, out, T, items, dim, heads, causal, scale);
            return;
        }
        Parallel.forRange(items * heads, 1, (p0, p1) -> {
            float[] s = new float[T];
            for (int p = p0; p < p1; p++) {
                int base = (p / heads) * T * dim, h = p % heads;
                for (int i = 0; i < T; i++) {
                    int n = causal ? i + 1 : T, o = base + i * dim + h * hd;
                    for (int j = 0; j < n; j++) s[j] = k.dot(q, o, kk, base + j * dim + h * hd, hd) * scale;
                    k.softmax(s, 0, n);
                    java.util.Arrays.fill(out, o, o + hd, 0f);
                    for (int j = 0; j < n; j++) k.axpy(s[j], v, base + j * dim + h * hd, out, o, hd);
                }
            }
        });
    }

    /**
     * {@link #attendAll} by GEMMs, one (item, head) at a time on each thread: the head's columns of q, k
     * and v gathered into Q, K [T, hd] and Vᵀ [hd, T]; S = Q·Kᵀ [T, T]; each row scaled by 1/√hd and
     * softmaxed (causal: over its first i + 1 entries, the rest 0); O = S·V as S·(Vᵀ)ᵀ; O scattered back.
     * Each head's arithmetic depends only on its own rows, never on the thread or the batch.
     */
    private static void attendAllGemm(Kernels k, float[] q, float[] kk, float[] v, float[] out, int T, int items, int dim, int heads,
                                      boolean causal, float scale) {
        int hd = dim / heads;
        Parallel.forRange(items * heads, 1, (p0, p1) -> {
            float[] qh = new float[T * hd], kh = new float[T * hd], vt = new float[hd * T], s = new float[T * T], oh = new float[T * hd];
            for (int p = p0; p < p1; p++) {
                int base = (p / heads) * T * dim, h = p % heads;
                for (int i = 0; i < T; i++) {
                    int o = base + i * dim + h * hd;
                    System.arraycopy(q, o, qh, i * hd, hd);
                    System.arraycopy(kk, o, kh, i * hd, hd);
                    for (int c = 0; c < hd; c++) vt[c * T + i] = v[o + c];
                }
                k.matmulTransposedB(qh, kh, s, T, T, hd);
                for (int i = 0; i < T; i++) {
                    int n = causal ? i + 1 : T, r = i * T;
                    for (int j = 0; j < n; j++) s[r + j] *= scale;
                    k.softmax(s, r, n);
                    if (n < T) java.util.Arrays.fill(s, r + n, r + T, 0f);
                }
                k.matmulTransposedB(s, vt, oh, T, hd, T);
                for (int i = 0; i < T; i++) System.arraycopy(oh, i * hd, out, base + i * dim + h * hd, hd);
            }
        });
    }

    /** {@code body} for each token t &lt; T, spread over the threads (a single token runs here). */
    static void perToken(int T, IntConsumer body) {
        if (T == 1) {
            body.accept(0);
            return;
        }
        Parallel.forRange(T, 1, (t0, t1) -> {
            for (int t = t0; t < t1; t++) body.accept(t);
        });
    }
}
