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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax search}: rank a corpus's lines against queries (binary, int8 or float). */
final class SearchCommand extends Command {

    SearchCommand() {
        super("search", "MODEL (--corpus FILE | --images DIR) --query TEXT [--query TEXT ...] [options]", "rank a corpus's lines (or a folder's images, CLIP) against queries", """
                Embeds every non-empty line of FILE and prints, for each query, the k closest lines
                with their scores. Binary search ranks by Hamming distance between sign bits and
                re-scores the best candidates with int8 codes (binary quantization with rescoring).
                With a CLIP model and --images DIR, the corpus is the folder's PNG and JPEG files
                (embedded by the image tower) and the queries go through the text tower: text-to-image
                search in a few bits per image.
                """, List.of(Option.valued("--corpus", "FILE", "the lines to search"), Option.valued("--images", "DIR", "CLIP: the images to search"),
                Option.valued("--query", "TEXT", "a query (repeatable)"),
                Option.valued("--precision", "binary|int8|float", "default binary"), Option.valued("--rescore", "N", "binary candidates re-scored (default 40)"),
                Option.valued("--top", "N", "results per query (default 10; also -k N)"),
                Option.flag("--compare", "also run float search and print recall@k of this precision on stderr"), Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return search(a, out, err);
    }

    private int search(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("search needs MODEL (see panamax search --help)");
        String corpusFile = a.value("--corpus", null), imagesDir = a.value("--images", null);
        if ((corpusFile == null) == (imagesDir == null) || a.all("--query").isEmpty()) {
            throw new UsageException("search needs --corpus FILE or --images DIR, and at least one --query TEXT");
        }
        var precision = switch (a.value("--precision", "binary")) {
            case "binary" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.BINARY;
            case "int8" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.INT8;
            case "float" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.FLOAT;
            default -> throw new UsageException("--precision must be binary, int8 or float");
        };
        int k = a.integer("--top", 10), rescore = a.integer("--rescore", 40);
        Path dir = Path.of(a.positional.get(0));
        try (Model m = ModelLoader.load(dir)) {
            List<String> lines; // what each corpus entry is printed as: a line, or an image's path
            java.util.function.Function<List<String>, List<float[]>> embedDocs; // the images 16 a pass (ImageBatches)
            java.util.function.Function<String, float[]> embedQuery;
            if (imagesDir != null) {
                if (!(m instanceof VisionModel v)) throw new ModelException(dir + ": " + m.architecture() + " has no image tower; --images needs CLIP");
                v.embedText(""); // says now if the model has no text tower
                ImageProcessor p = ImageProcessor.read(dir);
                try (var files = Files.list(Path.of(imagesDir))) {
                    lines = files.filter(f -> f.getFileName().toString().toLowerCase(java.util.Locale.ROOT).matches(".*\\.(png|jpe?g)"))
                            .map(Path::toString).sorted().toList();
                }
                if (lines.isEmpty()) throw new ModelException(imagesDir + ": no PNG or JPEG files");
                embedDocs = files -> ImageBatches.run(files.stream().map(Path::of).toList(), p, v, v::embedImages);
                embedQuery = v::embedText;
            } else {
                if (!(m instanceof EncoderModel enc)) throw new ModelException(dir + ": " + m.architecture() + " is not an encoder; search needs one such as BERT");
                if (enc.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json)");
                lines = Files.readAllLines(Path.of(corpusFile)).stream().filter(l -> !l.isBlank()).toList();
                embedQuery = line -> enc.embed(truncate(enc.tokenizer().encode(line, true), enc.maxPositions()));
                embedDocs = all -> all.stream().map(embedQuery).toList();
            }
            long t0 = System.nanoTime();
            List<float[]> docs = embedDocs.apply(lines);
            var index = new dev.panamax.runtime.search.EmbeddingIndex(docs.isEmpty() ? 1 : docs.get(0).length);
            for (float[] d : docs) index.add(d);
            err.printf("panamax: embedded %d %s in %.1f s%n", lines.size(), imagesDir != null ? "images" : "lines", (System.nanoTime() - t0) / 1e9);
            double recall = 0;
            for (String query : a.all("--query")) {
                float[] q = embedQuery.apply(query);
                var hits = index.search(q, k, precision, rescore);
                out.println("query: " + query);
                int rank = 1;
                for (var h : hits) out.printf(java.util.Locale.ROOT, "%3d  %.4f  %s%n", rank++, h.score(), lines.get(h.doc()));
                if (a.has("--compare")) recall += dev.panamax.runtime.search.EmbeddingIndex.recall(hits, index.search(q, k, dev.panamax.runtime.search.EmbeddingIndex.Precision.FLOAT, 0));
            }
            if (a.has("--compare")) {
                err.printf(java.util.Locale.ROOT, "panamax: recall@%d of %s search against float: %.3f over %d queries%n", k,
                        precision.name().toLowerCase(java.util.Locale.ROOT), recall / a.all("--query").size(), a.all("--query").size());
            }
        }
        return 0;
    }

    private int[] truncate(int[] ids, int max) {
        return ids.length <= max ? ids : java.util.Arrays.copyOf(ids, max);
    }
}
