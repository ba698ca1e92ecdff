package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax embed}: sentence embeddings from an encoder (BERT) or a decoder that gives hidden states. */
final class EmbedCommand extends Command {

    EmbedCommand() {
        super("embed", "MODEL TEXT... [options]", "sentence embeddings (BERT, the Llama family, GPT-2)", """
                Prints one line per TEXT: its sentence embedding (mean of the last hidden states —
                a decoder's after its final norm, as llama.cpp's mean pooling — unit length). float: the values; int8: "scale: c1 c2 ..." (absmax codes, value ≈
                code·scale); binary: the sign bits as 64-bit hex words (32x smaller than float).
                With several texts, their cosine similarities go to stderr.
                """, List.of(Option.valued("--ids", "A,B,C", "a text given as token ids"),
                Option.valued("--precision", "float|int8|binary", "how each embedding is printed (default float)"), Option.THREADS, Option.DEVICE));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return embed(a, out, err);
    }

    private int embed(Args a, PrintStream out, PrintStream err) {
        if (a.positional.isEmpty()) throw new UsageException("embed needs MODEL and at least one TEXT (see panamax embed --help)");
        String ids = a.value("--ids", null);
        if (a.positional.size() < 2 && ids == null) throw new UsageException("embed needs at least one TEXT or --ids");
        String device = deviceOption(a);
        try (Model m = placeModel(ModelLoader.load(Path.of(a.positional.get(0)), loadOptions(a)), device, err)) {
            java.util.function.Function<int[], float[]> embed = switch (m) {
                case EncoderModel enc -> enc::embed;
                case dev.panamax.runtime.model.LanguageModel lm -> {
                    if (lm.hiddenSize() < 0) lm.hiddenStates(new int[] {0}); // says which architectures can
                    yield t -> dev.panamax.runtime.EmbeddingOptions.defaults().pool(lm.hiddenStates(t), t.length, lm.hiddenSize());
                }
                default -> throw new ModelException(a.positional.get(0) + ": " + m.architecture() + " gives no embeddings");
            };
            java.util.List<float[]> vectors = new java.util.ArrayList<>();
            if (ids != null) vectors.add(embed.apply(Args.ids("--ids", ids)));
            for (String text : a.positional.subList(1, a.positional.size())) {
                if (m.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json): use --ids");
                vectors.add(embed.apply(m.tokenizer().encode(text, true)));
            }
            String precision = a.value("--precision", "float");
            for (float[] v : vectors) {
                StringBuilder sb = new StringBuilder();
                switch (precision) {
                    case "float" -> {
                        for (float f : v) sb.append(sb.length() > 0 ? " " : "").append(String.format(java.util.Locale.ROOT, "%.6f", f));
                    }
                    case "int8" -> {
                        byte[] q = new byte[v.length];
                        float scale = dev.panamax.quant.BinaryCodes.int8(v, q);
                        sb.append(String.format(java.util.Locale.ROOT, "%.6g:", scale));
                        for (byte c : q) sb.append(' ').append(c);
                    }
                    case "binary" -> {
                        for (long word : dev.panamax.quant.BinaryCodes.pack(v)) sb.append(sb.length() > 0 ? " " : "").append(String.format("%016x", word));
                    }
                    default -> throw new UsageException("--precision must be float, int8 or binary");
                }
                out.println(sb);
            }
            if (vectors.size() > 1) {
                err.println("cosine similarity:");
                for (float[] x : vectors) {
                    StringBuilder sb = new StringBuilder();
                    for (float[] y : vectors) {
                        double dot = 0;
                        for (int i = 0; i < x.length; i++) dot += x[i] * y[i];
                        sb.append(String.format(java.util.Locale.ROOT, " %6.3f", dot));
                    }
                    err.println(sb);
                }
            }
        }
        return 0;
    }
}
