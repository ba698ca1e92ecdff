package dev.panamax.runtime.backend;

import dev.panamax.runtime.tensor.Tensor;
import java.util.List;

/**
 * A pre-norm decoder-only transformer (the Llama family) described for a backend: its shape, and
 * its weights as the CPU model holds them (memory-mapped or widened tensors, norm vectors as
 * floats). A backend builds its own copy from this; the equations are those of
 * {@code models/Llama}:
 *
 * <pre>
 *   h  = x + W_o · Attention(RoPE(W_q·n + b_q), RoPE(W_k·n + b_k), W_v·n + b_v),   n = RMSNorm(x)
 *   x' = h + W_down · (act(W_gate·m) ⊙ W_up·m),                                  m = RMSNorm(h)
 * </pre>
 *
 * @param invFreq    RoPE's inverse frequency per rotated pair (headDim / 2), scaling already applied
 * @param ropeInterleaved pairs (2j, 2j+1) rather than (j, j + headDim/2)
 * @param slidingWindow positions each query sees (0: all)
 * @param activation "silu" or "relu2" (BitNet)
 * @param sigmoidAttention sigmoid weights with the −log n bias instead of softmax
 */
public record DecoderSpec(int dim, int layers, int heads, int kvHeads, int headDim, int ffnDim, int vocab, int context,
                          float normEps, float[] invFreq, boolean ropeInterleaved, int slidingWindow, String activation,
                          boolean sigmoidAttention, Tensor embed, Tensor output, float[] finalNorm, List<Layer> layerWeights) {

    /**
     * One layer. Biases, the per-head q/k norms (Qwen3) and the sub-norms (BitNet) are null when the
     * architecture has none.
     */
    public record Layer(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, float[] bq, float[] bk, float[] bv,
                        float[] qNorm, float[] kNorm, float[] ffnNorm, Tensor gate, Tensor up, Tensor down,
                        float[] attnSubNorm, float[] ffnSubNorm) {}

    /** A language model that can describe itself as a {@link DecoderSpec}. */
    public interface Source {
        DecoderSpec decoderSpec();
    }
}
