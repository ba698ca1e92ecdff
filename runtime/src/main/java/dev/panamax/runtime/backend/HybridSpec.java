package dev.panamax.runtime.backend;

import dev.panamax.runtime.tensor.Tensor;
import java.util.List;

/**
 * A hybrid of Gated DeltaNet linear attention and gated full attention, each layer followed by a
 * mixture of experts or a dense SwiGLU MLP (Qwen3-Next), described for a backend. The equations are
 * those of {@code models/Qwen3Next}; for the normalised input u of a layer:
 *
 * <pre>
 * DeltaNet, per value head h (key head h / (nv/nk)):
 *   [q, k, v, z] = W_qkvz·u,  [b, a] = W_ba·u;   [q, k, v] = SiLU(conv([q, k, v]))
 *   q = l2norm(q)/√dk,  k = l2norm(k),  β = σ(b),  g = aNeg·softplus(a + dtBias)
 *   S = e^g·S;  S += k ⊗ β(v − Sᵀk);  o = Sᵀq;    out = W_o · [RMSNorm(o_h)·norm ⊙ SiLU(z_h)]_h
 * Gated attention: [q_h, gate_h] = (W_q·u)_h; q, k RMSNorm per head, RoPE on the first 2·invFreq.length
 *   dimensions of each head (rotate-half); out = W_o · (softmax(qkᵀ/√d)v ⊙ σ(gate))
 * MoE: p = softmax(router·m); y = Σ_top-k p_e·expert_e(m) (p renormalised when normTopK) + σ(sharedGate·m)·shared(m)
 * </pre>
 *
 * Norm weights are given as applied (Qwen3-Next's (1 + w) already added). The rows of W_qkvz are
 * grouped by key head, [q (dk), k (dk), v (r·dv), z (r·dv)] each, and those of W_ba [b (r), a (r)] each,
 * r = nv / nk, as Hugging Face stores them.
 */
public record HybridSpec(int dim, int layers, int vocab, int context, float normEps, int heads, int kvHeads, int headDim, float[] invFreq,
                         int nk, int nv, int dk, int dv, int conv, Tensor embed, Tensor output, float[] finalNorm, List<Layer> layerWeights) {

    /** A layer: one token mixer (delta or attn, the other null) and one feed-forward (moe or mlp). */
    public record Layer(float[] inNorm, float[] postNorm, DeltaNet delta, Attention attn, Moe moe, Mlp mlp) {}

    /** convW is [(2·nk·dk + nv·dv) × conv] taps, oldest first, without a bias. */
    public record DeltaNet(Tensor inQkvz, Tensor inBa, float[] convW, float[] aNeg, float[] dtBias, float[] norm, Tensor out) {}

    /** q holds [q_h, gate_h] per head (2·heads·headDim rows). */
    public record Attention(Tensor q, Tensor k, Tensor v, Tensor o, float[] qNorm, float[] kNorm) {}

    /** down(SiLU(gate·m) ⊙ up·m). */
    public record Mlp(Tensor gate, Tensor up, Tensor down) {}

    /** shared and sharedGate may be null. */
    public record Moe(Tensor router, List<Mlp> experts, int topK, boolean normTopK, Mlp shared, Tensor sharedGate) {}

    /** A language model that can describe itself as a {@link HybridSpec}. */
    public interface Source {
        HybridSpec hybridSpec();
    }
}
