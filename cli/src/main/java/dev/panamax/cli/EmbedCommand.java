package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageBatches;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax embed}: sentence embeddings from an encoder (BERT) or a decoder that gives hidden states. */
final class EmbedCommand extends Command {

    EmbedCommand() {
        super("embed", "MODEL TEXT... | CLIP_DIR --image IMAGE... [options]", "sentence embeddings (BERT, the Llama family, GPT-2; CLIP texts and images)", """
                Prints one line per TEXT: its sentence embedding (mean of the last hidden states —
                a decoder's after its final norm, as llama.cpp's mean pooling — unit length). float: the values; int8: "scale: c1 c2 ..." (absmax codes, value ≈
                code·scale); binary: the sign bits as 64-bit hex words (32x smaller than float).
                With several texts, their cosine similarities go to stderr. A CLIP model embeds
                texts with its text tower, and with --image the IMAGE files with its image tower
                (preprocessed as its preprocessor_config.json says), all in one space. --out FILE
                writes the embeddings as float32 [N, dim] instead of printing them.
                """, List.of(Option.valued("--ids", "A,B,C", "a text given as token ids"),
                Option.flag("--image", "CLIP: the arguments after MODEL are image files"),
                Option.valued("--out", "FILE", "write float32 [N, dim] here instead of printing"),
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
        Path dir = Path.of(a.positional.get(0));
        try (Model m = placeModel(ModelLoader.load(dir, loadOptions(a)), device, err)) {
            java.util.List<float[]> vectors = new java.util.ArrayList<>();
            if (m instanceof VisionModel v) {
                if (ids != null) throw new UsageException("--ids is for text models; give a CLIP model texts");
                List<String> args = a.positional.subList(1, a.positional.size());
                if (a.has("--image")) {
                    vectors.addAll(ImageBatches.run(args.stream().map(Path::of).toList(), ImageProcessor.read(dir), v, v::embedImages));
                } else {
                    for (String text : args) vectors.add(v.embedText(text));
                }
                return print(vectors, a, out, err);
            }
            if (a.has("--image")) throw new UsageException(m.architecture() + " embeds text only: --image is for CLIP");
            java.util.function.Function<int[], float[]> embed = switch (m) {
                case EncoderModel enc -> enc::embed;
                case dev.panamax.runtime.model.LanguageModel lm -> {
                    if (lm.hiddenSize() < 0) lm.hiddenStates(new int[] {0}); // says which architectures can
                    yield t -> dev.panamax.runtime.EmbeddingOptions.defaults().pool(lm.hiddenStates(t), t.length, lm.hiddenSize());
                }
                default -> throw new ModelException(a.positional.get(0) + ": " + m.architecture() + " gives no embeddings");
            };
            if (ids != null) vectors.add(embed.apply(Args.ids("--ids", ids)));
            for (String text : a.positional.subList(1, a.positional.size())) {
                if (m.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json): use --ids");
                vectors.add(embed.apply(m.tokenizer().encode(text, true)));
            }
            return print(vectors, a, out, err);
        }
    }

    /** The vectors to --out as float32 [N, dim], or printed at --precision; with several, their cosine similarities to stderr. */
    private static int print(List<float[]> vectors, Args a, PrintStream out, PrintStream err) {
        String file = a.value("--out", null);
        if (file != null) {
            int dim = vectors.get(0).length;
            java.nio.ByteBuffer all = java.nio.ByteBuffer.allocate(4 * dim * vectors.size()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (float[] v : vectors) for (float f : v) all.putFloat(f);
            try (var os = openForWriting("--out", Path.of(file))) {
                os.write(all.array());
            } catch (java.io.IOException e) {
                throw new ModelException("cannot write " + file + ": " + e.getMessage(), e);
            }
            err.printf("panamax: wrote [%d, %d] float32 embeddings to %s%n", vectors.size(), dim, file);
            return 0;
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
        return 0;
    }
}
