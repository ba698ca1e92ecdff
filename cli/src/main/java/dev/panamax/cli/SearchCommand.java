package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax search}: rank a corpus's lines against queries (binary, int8 or float). */
final class SearchCommand extends Command {

    SearchCommand() {
        super("search", "MODEL --corpus FILE --query TEXT [--query TEXT ...] [options]", "rank a corpus's lines against queries (binary, int8 or float)", """
                Embeds every non-empty line of FILE and prints, for each query, the k closest lines
                with their scores. Binary search ranks by Hamming distance between sign bits and
                re-scores the best candidates with int8 codes (binary quantization with rescoring).
                """, List.of(Option.valued("--corpus", "FILE", "the lines to search"), Option.valued("--query", "TEXT", "a query (repeatable)"),
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
        String corpusFile = a.value("--corpus", null);
        if (corpusFile == null || a.all("--query").isEmpty()) throw new UsageException("search needs --corpus FILE and at least one --query TEXT");
        var precision = switch (a.value("--precision", "binary")) {
            case "binary" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.BINARY;
            case "int8" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.INT8;
            case "float" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.FLOAT;
            default -> throw new UsageException("--precision must be binary, int8 or float");
        };
        int k = a.integer("--top", 10), rescore = a.integer("--rescore", 40);
        List<String> lines = Files.readAllLines(Path.of(corpusFile)).stream().filter(l -> !l.isBlank()).toList();
        try (Model m = ModelLoader.load(Path.of(a.positional.get(0)))) {
            if (!(m instanceof EncoderModel enc)) throw new ModelException(a.positional.get(0) + ": " + m.architecture() + " is not an encoder; search needs one such as BERT");
            if (enc.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json)");
            var index = new dev.panamax.runtime.search.EmbeddingIndex(enc.hiddenSize());
            long t0 = System.nanoTime();
            for (String line : lines) index.add(enc.embed(truncate(enc.tokenizer().encode(line, true), enc.maxPositions())));
            err.printf("panamax: embedded %d lines in %.1f s%n", lines.size(), (System.nanoTime() - t0) / 1e9);
            double recall = 0;
            for (String query : a.all("--query")) {
                float[] q = enc.embed(truncate(enc.tokenizer().encode(query, true), enc.maxPositions()));
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
