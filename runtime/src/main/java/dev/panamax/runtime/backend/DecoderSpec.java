package dev.panamax.runtime.backend;

import dev.panamax.runtime.tensor.Tensor;
import java.util.List;

/**
 * A pre-norm decoder-only transformer described for a backend: its shape, and its weights as the CPU
 * model holds them (memory-mapped or widened tensors, norm vectors and biases as floats). A backend
 * builds its own copy from this. It covers the Llama family ({@code models/Llama}) and GPT-2
 * ({@code models/Gpt2}):
 *
 * <pre>
 *   x  = W_emb[token] (+ W_pos[pos] with learned positions)
 *   h  = x + W_o · Attention(rot(W_q·n + b_q), rot(W_k·n + b_k), W_v·n + b_v) + b_o,   n = Norm₁(x)
 *   x' = h + W_down · f(m) + b_down,                                                m = Norm₂(h)
 *   f(m) = act(W_gate·m) ⊙ W_up·m            (gated: Llama)
 *   f(m) = gelu_tanh(W_up·m + b_up)           (gate null: GPT-2)
 * </pre>
 *
 * Norms are RMSNorm, or LayerNorm where their bias is given; rot is RoPE, or nothing with learned
 * positions. Every bias and optional vector is null where the architecture has none.
 *
 * @param invFreq    RoPE's inverse frequency per rotated pair (headDim / 2), scaling already applied; null with learned positions
 * @param positions  the learned absolute position table [context × dim] (GPT-2), or null (RoPE)
 * @param ropeInterleaved pairs (2j, 2j+1) rather than (j, j + headDim/2)
 * @param slidingWindow positions each query sees (0: all)
 * @param activation "silu" or "relu2" (BitNet) for the gated feed-forward, "gelu_tanh" for the plain one
 * @param sigmoidAttention sigmoid weights with the −log n bias instead of softmax
 * @param kvF16      the KV cache in half floats ({@code --kv-type f16})
 */
public record DecoderSpec(int dim, int layers, int heads, int kvHeads, int headDim, int ffnDim, int vocab, int context,
                          float normEps, float[] invFreq, Tensor positions, boolean ropeInterleaved, int slidingWindow, String activation,
                          boolean sigmoidAttention, boolean kvF16, Tensor embed, Tensor output, float[] finalNorm, float[] finalNormBias,
                          List<Layer> layerWeights) {

    /**
     * One layer. The per-head q/k norms are Qwen3's, the sub-norms BitNet's; the norm biases make
     * LayerNorms (GPT-2).
     */
    public record Layer(float[] attnNorm, float[] attnNormBias, Tensor wq, Tensor wk, Tensor wv, Tensor wo, float[] bq, float[] bk,
                        float[] bv, float[] bo, float[] qNorm, float[] kNorm, float[] ffnNorm, float[] ffnNormBias, Tensor gate, Tensor up,
                        Tensor down, float[] bUp, float[] bDown, float[] attnSubNorm, float[] ffnSubNorm) {}

    /** A language model that can describe itself as a {@link DecoderSpec}. */
    public interface Source {
        DecoderSpec decoderSpec();
    }
}
