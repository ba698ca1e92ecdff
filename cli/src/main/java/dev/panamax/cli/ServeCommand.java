package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.Panamax;
import dev.panamax.serve.OpenAiServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax serve}: the OpenAI-compatible HTTP server over one model. */
final class ServeCommand extends Command {

    ServeCommand() {
        super("serve", "[MODEL] [options]", "an OpenAI-compatible HTTP server (chat, completions, embeddings)", """
                Serves MODEL (the embedded kjv-llama when none is given) over HTTP with OpenAI's API:
                POST /v1/chat/completions, /v1/completions and /v1/embeddings (stream: true sends
                server-sent events), GET /v1/models, /health and /metrics (Prometheus text).
                Point an OpenAI client at http://HOST:PORT/v1. Each request computes exactly as it
                would alone, however many run at once. SIGTERM or Ctrl-C stops accepting, lets
                running requests finish for up to 10 s, and exits 0. Before it accepts requests it
                decodes synthetic batches for --warmup seconds, so the first users meet compiled
                kernels rather than a JVM still warming up.
                """, Option.of(List.of(
                        Option.valued("--host", "ADDRESS", "the address to listen on (default 127.0.0.1: this machine only)"),
                        Option.valued("--port", "N", "the port (default 8080; 0 = any free port)"),
                        Option.valued("--api-key", "KEY", "require Authorization: Bearer KEY on every /v1 route (also PANAMAX_API_KEY)"),
                        Option.valued("--parallel", "N", "requests generating at once (default 4)"),
                        Option.valued("--queue", "N", "requests waiting for a slot before new ones get 503 (default 64)"),
                        Option.valued("--model-id", "NAME", "the model's name in /v1/models (default: the file's name)"),
                        Option.valued("--warmup", "S", "seconds of synthetic batches before accepting requests (default 2; 0: none)"),
                        Option.valued("--kv-memory", "MB", "the running requests' KV caches together, at most (default: half the heap); a request waits until its cache fits, and one that never could gets 400")),
                List.of(Option.QUANTIZE, Option.THREADS, Option.KV_TYPE, Option.PROMPT_CHUNK, Option.LAYOUT_CACHE, Option.DEVICE)));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        if (a.positional.size() > 1) throw new UsageException("serve takes at most MODEL (see panamax serve --help)");
        Path modelPath = a.positional.isEmpty() ? null : Path.of(a.positional.get(0));
        OpenAiServer.Options o = OpenAiServer.Options.defaults()
                .withHost(a.value("--host", "127.0.0.1"))
                .withPort(port(a.value("--port", "8080")))
                .withParallel(positiveInt("--parallel", a.value("--parallel", "4")))
                .withQueue(nonNegative("--queue", a.value("--queue", "64")))
                .withModelId(a.value("--model-id", modelPath == null ? "kjv-llama" : modelPath.getFileName().toString()));
        float warm = a.number("--warmup", 2f);
        if (!(warm >= 0 && warm <= 600)) throw new UsageException("--warmup must be between 0 and 600 seconds, got " + warm);
        o = o.withWarmUp(java.time.Duration.ofMillis((long) (warm * 1000)));
        if (a.value("--kv-memory", null) != null) {
            float mb = a.number("--kv-memory", 0f);
            if (!(mb >= 1 && mb <= 1 << 24)) throw new UsageException("--kv-memory must be between 1 and 16777216 MB, got " + a.value("--kv-memory", null));
            o = o.withKvMemory((long) (mb * 1048576L));
        }
        String key = a.value("--api-key", System.getenv("PANAMAX_API_KEY"));
        if (key != null && !key.isEmpty()) o = o.withApiKey(key);
        dev.panamax.simd.Simd.endWarmUp(); // a server runs long: the start-up twins' warm-up would cost its first requests more than it gives
        String device = deviceOption(a);
        try (Panamax model = place(load(modelPath, loadOptions(a), err), device, err)) {
            model.model().prepare(); // the CPU's decode layout (mapped from the layout cache, or made) before the first request
            if (model.model().preparedNote() != null) err.println("panamax: " + model.model().preparedNote());
            OpenAiServer server;
            if (!o.warmUp().isZero()) err.println("panamax: warming up for " + warm + " s...");
            try {
                server = OpenAiServer.start(model, o);
            } catch (java.net.BindException e) {
                throw new dev.panamax.runtime.ModelException("cannot listen on " + o.host() + ":" + o.port() + ": " + e.getMessage(), e);
            }
            // SIGTERM and Ctrl-C: a graceful stop and exit status 0, as a service manager expects
            // (a shutdown hook alone would leave the JVM's 143).
            for (String signal : new String[] {"TERM", "INT"}) {
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> Thread.ofPlatform().start(server::close));
                } catch (IllegalArgumentException e) {
                    // this JVM does not let us handle it: the default action stays
                }
            }
            err.println("panamax: serving " + o.modelId() + " at http://" + o.host() + ":" + server.port() + "/v1 (" + o.parallel() + " parallel"
                    + (o.apiKey() != null ? ", API key required" : "") + ")");
            try {
                server.awaitClose();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.close();
            }
            err.println("panamax: server stopped");
        }
        return 0;
    }

    private static int port(String v) {
        try {
            int p = Integer.parseInt(v);
            if (p >= 0 && p <= 65535) return p;
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException("--port must be 0 to 65535, got '" + v + "'");
    }

    private static int nonNegative(String flag, String v) {
        try {
            int n = Integer.parseInt(v);
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException(flag + " must be 0 or more, got '" + v + "'");
    }
}
