/**
 * The model families — Llama (and Qwen, Mistral), GPT-2, BERT, Mamba, Mamba-2, Qwen3-Next — found
 * by the runtime as {@link dev.panamax.runtime.model.Architecture} services. Nothing is exported:
 * a user loads a model through {@code dev.panamax.runtime.Panamax}.
 */
module dev.panamax.models {
    requires transitive dev.panamax.runtime;
    requires dev.panamax.simd;
    requires dev.panamax.quant;

    provides dev.panamax.runtime.model.Architecture with
            dev.panamax.models.Llama,
            dev.panamax.models.Gpt2,
            dev.panamax.models.Bert,
            dev.panamax.models.Mamba,
            dev.panamax.models.Mamba2,
            dev.panamax.models.Qwen3Next,
            dev.panamax.models.Vit,
            dev.panamax.models.Clip;
}
