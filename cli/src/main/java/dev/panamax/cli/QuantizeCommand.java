package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.models.GgufExport;
import dev.panamax.models.QuantPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax quantize}: quantize a GGUF file or Hugging Face directory (q8_0, q4_k_m, …). */
final class QuantizeCommand extends Command {

    QuantizeCommand() {
        super("quantize", "IN OUT.gguf --type TYPE [--fallback f16|f32]", "quantize a GGUF file or Hugging Face directory (q8_0, q4_k_m, …)", """
                Writes OUT.gguf, a file llama.cpp loads, from IN: a GGUF file (same metadata; every float
                matrix quantized, other tensors copied) or a Hugging Face directory (as convert).
                Progress on a terminal.
                """, List.of(Option.valued("--type", "TYPE", """
                        q8_0 | q4_0: every matrix; blocks byte-identical to llama-quantize's
                        q5_0 | iq4_nl: every matrix, 32 values a block
                        q4_k | q5_k | q6_k: every matrix in one K-quant (super-blocks of 256)
                        q4_k_m | q5_k_m: llama.cpp's mixes: Q4_K (Q5_K), with Q6_K for the output
                          head and attn_v/ffn_down of the first and last eighth of the layers
                          and every third between
                        tq2_0: ternary {-1, 0, +1} per 256 (for BitNet b1.58 weights)
                        f16 | bf16 | f32: no quantization"""),
                Option.valued("--fallback", "f16|f32", "type of matrices whose rows are not whole blocks (default f16, as llama.cpp; K-quants first try Q8_0)"),
                Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return quantize(a, err);
    }

    private int quantize(Args a, PrintStream err) throws IOException {
        if (a.positional.size() != 2) throw new UsageException("quantize needs IN and OUT.gguf (see panamax quantize --help)");
        String t = a.value("--type", null);
        if (t == null) throw new UsageException("quantize needs --type (" + QuantPlan.NAMES + ")");
        QuantPlan plan = quantPlan(t, a.value("--fallback", null));
        Path dst = Path.of(a.positional.get(1));
        boolean terminal = System.console() != null;
        GgufExport.quantize(Path.of(a.positional.get(0)), dst, plan, (done, all) -> {
            if (terminal) err.printf("\rpanamax: quantizing tensor %d of %d", done, all);
        });
        if (terminal) err.print("\r\033[K");
        err.println("panamax: wrote " + dst + " (" + Files.size(dst) + " bytes)");
        return 0;
    }
}
