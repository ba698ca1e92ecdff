package dev.panamax.models;

import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;

/**
 * A mixture-of-experts feed-forward block (Mixtral / Qwen-MoE style), reusable by any architecture:
 *
 * <pre>
 *   p      = softmax(W_router · x)                       over E experts
 *   top    = the k largest p (renormalised to sum 1 when normTopK)
 *   y      = Σ_{e ∈ top} p_e · down_e(SiLU(gate_e · x) ⊙ up_e · x)
 *          + σ(w_shared · x) · shared(x)                 the shared expert, when there is one
 * </pre>
 *
 * Only the k chosen experts run for a token, so the compute per token is k experts' worth however
 * many experts the model has.
 */
final class Moe {

    /** One SwiGLU MLP: down(SiLU(gate·x) ⊙ up·x). */
    record Mlp(Tensor gate, Tensor up, Tensor down) {
        int hidden() {
            return gate.rows();
        }

        dev.panamax.runtime.backend.HybridSpec.Mlp spec() {
            return new dev.panamax.runtime.backend.HybridSpec.Mlp(gate, up, down);
        }

        /** out ← down(SiLU(gate·x) ⊙ up·x), each matrix in the CPU's layout ({@link Weights#cpu}). */
        void apply(Kernels k, Weights w, float[] x, float[] out) {
            int h = hidden();
            float[] ga = new float[h], ub = new float[h];
            w.cpu(gate).matvec(k, x, ga);
            w.cpu(up).matvec(k, x, ub);
            k.silu(ga, 0, h);
            k.mul(ga, 0, ub, 0, ga, 0, h);
            w.cpu(down).matvec(k, ga, out);
        }
    }

    final Tensor router;
    final Mlp[] experts;
    final int topK;
    final boolean normTopK;
    final Mlp shared;          // may be null
    final Tensor sharedGate;   // [1, dim], may be null

    Moe(Tensor router, Mlp[] experts, int topK, boolean normTopK, Mlp shared, Tensor sharedGate) {
        this.router = router;
        this.experts = experts;
        this.topK = topK;
        this.normTopK = normTopK;
        this.shared = shared;
        this.sharedGate = sharedGate;
    }

    /** The block described for a backend. */
    dev.panamax.runtime.backend.HybridSpec.Moe spec() {
        var list = new java.util.ArrayList<dev.panamax.runtime.backend.HybridSpec.Mlp>();
        for (Mlp e : experts) list.add(e.spec());
        return new dev.panamax.runtime.backend.HybridSpec.Moe(router, java.util.List.copyOf(list), topK, normTopK, shared == null ? null : shared.spec(),
                sharedGate);
    }

    /** The k experts with the largest probability, best first (ties: the lower index, as torch.topk). */
    static int[] topK(float[] p, int k) {
        int[] idx = new int[k];
        boolean[] taken = new boolean[p.length];
        for (int i = 0; i < k; i++) {
            int best = -1;
            for (int e = 0; e < p.length; e++) if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
            idx[i] = best;
            taken[best] = true;
        }
        return idx;
    }

    /** out ← the block applied to x (dim values). */
    void apply(Kernels k, Weights weights, float[] x, float[] out) {
        int dim = out.length;
        float[] p = new float[experts.length];
        router.matvec(k, x, p);
        k.softmax(p, 0, p.length);
        int[] chosen = topK(p, topK);
        float sum = 0;
        for (int e : chosen) sum += p[e];
        java.util.Arrays.fill(out, 0f);
        float[] y = new float[dim];
        for (int e : chosen) {
            float w = normTopK ? p[e] / sum : p[e];
            experts[e].apply(k, weights, x, y);
            k.axpy(w, y, 0, out, 0, dim);
        }
        if (shared != null) {
            shared.apply(k, weights, x, y);
            float s = 1;
            if (sharedGate != null) {
                float[] gl = new float[1];
                sharedGate.matvec(k, x, gl);
                s = (float) (1 / (1 + Math.exp(-gl[0])));
            }
            k.axpy(s, y, 0, out, 0, dim);
        }
    }
}
