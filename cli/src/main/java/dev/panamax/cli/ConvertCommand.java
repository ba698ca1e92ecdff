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

/** {@code panamax convert}: write a Hugging Face directory as a GGUF (f16, q8_0, …). */
final class ConvertCommand extends Command {

    ConvertCommand() {
        super("convert", "HF_DIR OUT.gguf [--type TYPE]", "write a Hugging Face directory as a GGUF (f16, q8_0, …)", """
                Writes a Hugging Face Llama, Mistral, Mamba or BERT directory as a GGUF file that
                llama.cpp loads (llama.cpp's tensor names, Q/K permuted for its RoPE layout).
                """, List.of(Option.valued("--type", "TYPE", "any type of panamax quantize --type (default f16)"), Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return convert(a, out, err);
    }

    private int convert(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 2) throw new UsageException("convert needs HF_DIR and OUT.gguf (see panamax convert --help)");
        QuantPlan plan = quantPlan(a.value("--type", "f16"), null);
        Path dst = Path.of(a.positional.get(1));
        GgufExport.convert(Path.of(a.positional.get(0)), dst, plan);
        err.println("panamax: wrote " + dst + " (" + Files.size(dst) + " bytes)");
        return 0;
    }
}
