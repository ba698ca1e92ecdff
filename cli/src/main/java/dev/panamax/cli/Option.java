package dev.panamax.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * One option of a command, declared once: its name, the value it takes ({@code null} for a
 * switch), and the help line(s) {@link Command#help} prints. A command's parser accepts exactly
 * the options it declares, so the help cannot name an option the command does not take, nor miss one.
 */
record Option(String name, String value, String help) {
    // help: one paragraph, wrapped when printed; a newline in it starts a new line (a list).

    static Option valued(String name, String value, String help) {
        return new Option(name, value, help);
    }

    static Option flag(String name, String help) {
        return new Option(name, null, help);
    }

    // ---- the options several commands share ----------------------------------------------------

    static final Option THREADS = valued("--threads", "N", "threads for the kernels (default: the cores; at most 4 × the cores)");
    static final Option KV_TYPE = valued("--kv-type", "f32|f16", "element type of the attention KV cache (default f32; f16 halves its memory, as llama.cpp's default)");
    static final Option PROMPT_CHUNK = valued("--prompt-chunk", "N", "a longer prompt is computed in blocks of at most N tokens (of nearly equal length), each reading the weights once "
            + "(default " + dev.panamax.runtime.LoadOptions.DEFAULT_PROMPT_CHUNK + "; 0: the whole prompt as one block). The blocks change a prompt's last bits, "
            + "so a served answer equals the library's only with the same N; serve feeds a long prompt one block between decoding steps");
    static final Option LAYOUT_CACHE = valued("--layout-cache", "DIR|off", "where the CPU's interleaved copy of a quantized model's matrices "
            + "is kept, so later starts map it instead of copying again (default $PANAMAX_LAYOUT_CACHE, else ~/.cache/panamax/layouts; "
            + "as large as the model's Q8_0/Q4_0/Q4_K/Q6_K matrices; off: copy at every start, write nothing)");
    static final Option DEVICE = valued("--device", "cpu|cuda|auto", "where the model runs (default cpu): cuda keeps the weights on an NVIDIA GPU "
            + "(needs the NVIDIA driver, NVRTC and cuBLAS on the machine), auto takes the GPU when it can");
    static final Option QUANTIZE = valued("--quantize", "q8_0|q4_0|q4_k|q5_k|q6_k|binary|ternary", "quantize the float weight matrices at load "
            + "(integer kernels; ternary: BitNet b1.58's {-1, 0, +1} with an absmean scale; binary: signs with a mean |w| per 64, XNOR-Net style)");

    /** The sampling options of generate and chat; {@code maxTokens} is the command's default. */
    static List<Option> sampling(int maxTokens) {
        return List.of(
                valued("--max-tokens", "N", "tokens to generate (default " + maxTokens + ")"),
                valued("--temperature", "T", "0 = greedy (default 0.8)"),
                valued("--top-k", "K", "keep the K most likely tokens, 0 = off (default 40)"),
                valued("--top-p", "P", "keep the smallest set with probability mass P (default 0.95)"),
                valued("--min-p", "P", "drop tokens below P × the top probability (default 0.05)"),
                valued("--repeat-penalty", "R", "penalise the last 64 tokens, 1 = off (default 1.0)"),
                valued("--seed", "S", "random seed, for reproducible sampling (default: random)"));
    }

    /** All of {@code groups} in one list. */
    @SafeVarargs
    static List<Option> of(List<Option>... groups) {
        List<Option> all = new ArrayList<>();
        for (List<Option> g : groups) all.addAll(g);
        return all;
    }
}
