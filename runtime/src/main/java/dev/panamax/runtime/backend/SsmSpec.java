package dev.panamax.runtime.backend;

import dev.panamax.runtime.tensor.Tensor;
import java.util.List;

/**
 * A selective state-space language model (Mamba or Mamba-2) described for a backend: its shape and
 * its weights as the CPU model holds them. The equations are those of {@code models/Mamba} and
 * {@code models/Mamba2}; per layer, for the normalised input u = RMSNorm(x):
 *
 * <pre>
 *   Mamba (version 1), channels c &lt; inner, states s &lt; state:
 *     [x, z] = W_in·u;  x = SiLU(conv(x));  [δ, B, C] = W_x·x;  Δ[c] = softplus(W_dt[c]·δ + b_dt[c])
 *     h[c,s] = exp(Δ[c]·A[c,s])·h[c,s] + Δ[c]·B[s]·x[c];   y[c] = Σ_s h[c,s]·C[s] + D[c]·x[c]
 *     x' = x + W_out·(y ⊙ SiLU(z))
 *   Mamba-2 (version 2), heads of headDim rows, B and C per group of heads:
 *     [z, xBC, dt] = W_in·u;  xBC = SiLU(conv(xBC));  Δ[h] = clamp(softplus(dt[h] + b_dt[h]), dtMin, dtMax)
 *     S[h] = exp(Δ[h]·A[h])·S[h] + Δ[h]·x[h] ⊗ B[g(h)];   y[h] = S[h]·C[g(h)] + D[h]·x[h]
 *     x' = x + W_out·RMSNorm(y ⊙ SiLU(z))·gateNorm
 * </pre>
 *
 * @param version  1 (Mamba) or 2 (Mamba-2)
 * @param heads    Mamba-2's heads (inner / heads rows each); Mamba: inner (one row a "head")
 * @param groups   Mamba-2's B/C groups; Mamba: 1
 * @param dtRank   Mamba's δ width; Mamba-2: 0 (dt comes straight from W_in)
 * @param dtMin    Mamba-2's time-step clamp (0 and +∞ when none)
 */
public record SsmSpec(int version, int dim, int layers, int inner, int state, int conv, int heads, int groups, int dtRank, int vocab,
                      float normEps, float dtMin, float dtMax, Tensor embed, Tensor output, float[] finalNorm, List<Layer> layerWeights) {

    /**
     * One layer. {@code a} holds A itself (−exp(A_log)): [inner × state] for Mamba, [heads] for
     * Mamba-2; {@code d} likewise [inner] or [heads]. {@code convW} is [channels × conv] taps, oldest
     * first. Mamba has {@code xProj} and {@code dtProj} ([inner × dtRank]); Mamba-2 has {@code gateNorm}.
     */
    public record Layer(float[] norm, Tensor inProj, float[] convW, float[] convB, Tensor xProj, float[] dtProj, float[] dtBias,
                        float[] a, float[] d, float[] gateNorm, Tensor outProj) {}

    /** Channels through the causal conv: x (Mamba) or x, B and C (Mamba-2). */
    public int convChannels() {
        return version == 1 ? inner : inner + 2 * groups * state;
    }

    /** A language model that can describe itself as an {@link SsmSpec}. */
    public interface Source {
        SsmSpec ssmSpec();
    }
}
