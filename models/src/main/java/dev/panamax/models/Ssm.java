package dev.panamax.models;

import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;

/** The pieces Mamba and Mamba-2 share: the causal depthwise convolution, softplus, the output head. */
final class Ssm {
    private Ssm() {}

    /**
     * One token through the causal depthwise conv: channels values at x[off..] are replaced by
     * bias + Σ_j w[ch, j]·input(t − (kc−1) + j), where the kc − 1 earlier inputs come from
     * {@code state} ([channels, kc−1], oldest first), which then shifts in this input.
     */
    static void convStep(float[] x, int off, int channels, float[] w, float[] bias, float[] state, int kc) {
        for (int ch = 0; ch < channels; ch++) {
            float v = x[off + ch], acc = bias[ch];
            int s = ch * (kc - 1);
            for (int j = 0; j < kc - 1; j++) acc += w[ch * kc + j] * state[s + j];
            acc += w[ch * kc + kc - 1] * v;
            for (int j = 0; j < kc - 2; j++) state[s + j] = state[s + j + 1];
            if (kc > 1) state[s + kc - 2] = v;
            x[off + ch] = acc;
        }
    }

    /**
     * T tokens through the same conv: inputs are in[t·inStride + inOff + ch], outputs go to
     * out[t·channels + ch]; the state supplies the inputs before t = 0 and ends holding the last kc − 1.
     */
    static void convBlock(float[] in, int inStride, int inOff, int T, int channels, float[] w, float[] bias, float[] state, int kc, float[] out) {
        if (T == 1) { // a decoding step: the same sums, the state shifted in place
            for (int ch = 0; ch < channels; ch++) out[ch] = in[inOff + ch];
            convStep(out, 0, channels, w, bias, state, kc);
            return;
        }
        float[] last = new float[kc - 1];
        for (int ch = 0; ch < channels; ch++) {
            int s = ch * (kc - 1);
            for (int t = 0; t < T; t++) {
                float acc = bias[ch];
                for (int j = 0; j < kc; j++) {
                    int src = t - (kc - 1) + j;
                    acc += w[ch * kc + j] * (src >= 0 ? in[src * inStride + inOff + ch] : state[s + kc - 1 + src]);
                }
                out[t * channels + ch] = acc;
            }
            for (int j = 0; j < kc - 1; j++) {
                int src = T - (kc - 1) + j;
                last[j] = src >= 0 ? in[src * inStride + inOff + ch] : state[s + kc - 1 + src];
            }
            System.arraycopy(last, 0, state, s, kc - 1);
        }
    }

    /** softplus as torch computes it (linear above 20). */
    static float softplus(float v) {
        return v > 20 ? v : (float) Math.log1p(Math.exp(v));
    }

    /**
     * After a prefill block X [T, d]: the final RMSNorm and the output head, for the last row into
     * {@code logits} (returned), or for every row (returned as [T, vocab], the last also copied).
     */
    static float[] head(Kernels k, float[] X, int T, int d, float[] norm, float eps, Tensor output, float[] u, float[] logits, boolean all) {
        int vocab = logits.length;
        if (!all) {
            k.rmsnorm(u, 0, X, (T - 1) * d, norm, d, eps);
            output.matvec(k, u, logits);
            return logits;
        }
        for (int t = 0; t < T; t++) k.rmsnorm(X, t * d, X, t * d, norm, d, eps);
        float[] rows = new float[T * vocab];
        Linear.apply(k, output, X, T, rows);
        System.arraycopy(rows, (T - 1) * vocab, logits, 0, vocab);
        return rows;
    }
}
