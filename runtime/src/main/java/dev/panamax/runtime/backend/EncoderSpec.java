package dev.panamax.runtime.backend;

import dev.panamax.runtime.tensor.Tensor;
import java.util.List;

/**
 * A bidirectional post-LayerNorm encoder (BERT) described for a backend; the equations are those of
 * {@code models/Bert}:
 *
 * <pre>
 *   X = LN(W_word[ids] + W_pos[0..T) + type0)
 *   X = LN₁(X + W_o · MHA(W_q·X + b_q, W_k·X + b_k, W_v·X + b_v) + b_o)      every token sees every token
 *   X = LN₂(X + W_out · gelu(W_in·X + b_in) + b_out)                           gelu with erf
 * </pre>
 *
 * @param type0 the token-type embedding of type 0, added to every row
 */
public record EncoderSpec(int dim, int layers, int heads, int ffnDim, int vocab, int positions, float normEps, Tensor word,
                          Tensor position, float[] type0, float[] embNorm, float[] embNormBias, List<Layer> layerWeights) {

    public record Layer(Tensor wq, float[] bq, Tensor wk, float[] bk, Tensor wv, float[] bv, Tensor wo, float[] bo, float[] ln1w,
                        float[] ln1b, Tensor win, float[] bin, Tensor wout, float[] bout, float[] ln2w, float[] ln2b) {}

    /** An encoder that can describe itself as an {@link EncoderSpec}. */
    public interface Source {
        EncoderSpec encoderSpec();
    }
}
