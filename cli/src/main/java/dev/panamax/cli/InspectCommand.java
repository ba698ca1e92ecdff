package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** {@code panamax inspect}: format, architecture, hyper-parameters, tensors, then the loader's checks. */
final class InspectCommand extends Command {

    InspectCommand() {
        super("inspect", "FILE_OR_DIR", "format, architecture, hyper-parameters, tensors, then the loader's checks", """
                Prints the format, architecture, metadata or config (long arrays shortened) and
                every tensor with type and shape, then checks the model exactly as loading does
                (hyper-parameters, every tensor the architecture needs, their shapes): the last line
                is "valid: ..." and the exit status 0, or the first problem found and status 1.
                """, List.of());
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return inspect(a, out);
    }

    private int inspect(Args a, PrintStream out) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("inspect needs FILE_OR_DIR (see panamax inspect --help)");
        Path p = Path.of(a.positional.get(0));
        switch (ModelLoader.formatOf(p)) {
            case HUGGING_FACE -> {
                ModelSource src = ModelLoader.readHuggingFace(p);
                try (var w = src.weights()) {
                    out.println("format: Hugging Face directory (safetensors)");
                    out.println("architecture: " + src.architecture());
                    out.println("tokenizer: " + (src.tokenizer() == null ? "none" : src.tokenizer().getClass().getSimpleName() + ", " + src.tokenizer().vocabSize() + " tokens"));
                    out.println("config:");
                    for (Map.Entry<String, Object> e : src.config().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
            case GGUF -> {
                Gguf g = Gguf.read(p);
                try (var w = g.weights()) {
                    out.println("format: GGUF v" + g.version() + ", data at byte " + g.dataOffset());
                    Object arch = g.metadata().get("general.architecture");
                    out.println("architecture: " + (arch == null ? "(none: vocabulary only?)" : arch));
                    out.println("metadata (" + g.metadata().size() + " keys):");
                    for (Map.Entry<String, Object> e : g.metadata().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
            case LLAMA2C -> {
                ModelSource src = dev.panamax.runtime.format.Llama2c.read(p);
                try (var w = src.weights()) {
                    out.println("format: llama2.c checkpoint");
                    out.println("architecture: " + src.architecture());
                    out.println("tokenizer: " + (src.tokenizer() == null ? "none (no tokenizer.bin beside it)" : src.tokenizer().vocabSize() + " tokens"));
                    out.println("config:");
                    for (Map.Entry<String, Object> e : src.config().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
        }
        // The same checks as loading: hyper-parameters, every tensor the architecture needs, shapes.
        out.flush();
        try (Model m = ModelLoader.load(p)) {
            out.println("valid: loads as " + m.architecture() + (m instanceof LanguageModel lm
                    ? " (context " + lm.contextLength() + ", vocabulary " + lm.vocabSize() + ")" : " (encoder)"));
        }
        return 0;
    }

    private void printTensors(PrintStream out, java.util.Collection<Tensor> tensors) {
        long total = 0;
        out.println("tensors (" + tensors.size() + "):");
        for (Tensor t : tensors) {
            out.println("  " + t.name() + "  " + t.type() + " " + java.util.Arrays.toString(t.shape()));
            total += t.elements();
        }
        out.println("parameters: " + total);
    }

    private String shortValue(Object v) {
        if (v instanceof List<?> l) {
            String head = l.stream().limit(8).map(this::shortValue).collect(Collectors.joining(", "));
            return "[" + head + (l.size() > 8 ? ", … (" + l.size() + " values)" : "") + "]";
        }
        if (v instanceof String s) return '"' + (s.length() > 80 ? s.substring(0, 80) + "…" : s) + '"';
        if (v instanceof Map<?, ?> m) return Json.object(v, "value").toString();
        return String.valueOf(v);
    }
}
