package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tokenizer.SentencePiece;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** {@code panamax tokenize}: token ids of stdin's text. */
final class TokenizeCommand extends Command {

    TokenizeCommand() {
        super("tokenize", "MODEL_OR_VOCAB [--ids] [--no-special] < text", "token ids of stdin's text", """
                Tokenizes standard input with the model's tokenizer (a vocabulary-only GGUF works).
                Prints one token per line as "id 'piece'", or with --ids the ids on one line.
                """, List.of(Option.flag("--ids", "print only the ids, space-separated"),
                Option.flag("--no-special", "add no BOS/EOS and treat special-token text as text (llama.cpp's test mode)"), Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return tokenize(a, out, in);
    }

    private int tokenize(Args a, PrintStream out, InputStream in) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("tokenize needs MODEL_OR_VOCAB (see panamax tokenize --help)");
        Path p = Path.of(a.positional.get(0));
        String text = utf8(in.readAllBytes(), "standard input");
        Tokenizer tok;
        Gguf gguf = null;
        ModelSource hf = null;
        if (Files.isDirectory(p)) {
            hf = ModelLoader.readHuggingFace(p);
            tok = hf.tokenizer();
        } else {
            gguf = Gguf.read(p);
            tok = gguf.tokenizer();
        }
        try {
            if (tok == null) throw new ModelException(p + ": has no tokenizer");
            boolean special = !a.has("--no-special");
            int[] ids = tok instanceof SentencePiece sp ? sp.encode(text, special, special) : tok.encode(text, special);
            if (a.has("--ids")) {
                out.println(java.util.Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            } else {
                for (int id : ids) out.println(id + " '" + tok.piece(id) + "'");
            }
        } finally {
            if (gguf != null) gguf.weights().close();
            if (hf != null) hf.weights().close();
        }
        return 0;
    }
}
