package dev.panamax.serve;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** What {@code GET /metrics} reports, in Prometheus' text format. */
final class Metrics {
    /** Histogram bucket bounds in seconds, for time to first token and the gap between tokens. */
    private static final double[] BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>();
    private final AtomicLong promptTokens = new AtomicLong(), generatedTokens = new AtomicLong();
    private final Histogram firstToken = new Histogram(), interToken = new Histogram();

    private static final class Histogram {
        final AtomicLongArray counts = new AtomicLongArray(BOUNDS.length + 1);
        final AtomicLong sumNanos = new AtomicLong();

        void add(long nanos) {
            double s = nanos / 1e9;
            int i = 0;
            while (i < BOUNDS.length && s > BOUNDS[i]) i++;
            counts.incrementAndGet(i);
            sumNanos.addAndGet(nanos);
        }

        void write(StringBuilder b, String name, String help) {
            b.append("# HELP ").append(name).append(' ').append(help).append('\n');
            b.append("# TYPE ").append(name).append(" histogram\n");
            long cumulative = 0;
            for (int i = 0; i < BOUNDS.length; i++) {
                cumulative += counts.get(i);
                b.append(name).append("_bucket{le=\"").append(BOUNDS[i]).append("\"} ").append(cumulative).append('\n');
            }
            cumulative += counts.get(BOUNDS.length);
            b.append(name).append("_bucket{le=\"+Inf\"} ").append(cumulative).append('\n');
            b.append(name).append("_sum ").append(String.format(Locale.ROOT, "%.6f", sumNanos.get() / 1e9)).append('\n');
            b.append(name).append("_count ").append(cumulative).append('\n');
        }
    }

    void request(String route, int status) {
        String r = switch (route) {
            case "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings" -> route;
            default -> route.startsWith("/v1/models/") ? "/v1/models" : "other"; // unbounded paths are not labels
        };
        requests.computeIfAbsent("route=\"" + r + "\",status=\"" + status + "\"", k -> new AtomicLong()).incrementAndGet();
    }

    void generation(int prompt, int generated) {
        promptTokens.addAndGet(prompt);
        generatedTokens.addAndGet(generated);
    }

    private final AtomicLong steps = new AtomicLong(), stepSequences = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger lastBatch = new java.util.concurrent.atomic.AtomicInteger();
    private final Histogram stepTime = new Histogram();

    /** A batched decoding step of {@code rows} tokens (one per decoding sequence, several per short prompt). */
    void step(int rows, long nanos) {
        steps.incrementAndGet();
        stepSequences.addAndGet(rows);
        lastBatch.set(rows);
        stepTime.add(nanos);
    }

    private final AtomicLong kvReserved = new AtomicLong(), kvWaiting = new AtomicLong();

    void kvReserved(long bytes) {
        kvReserved.set(bytes);
    }

    void kvWaiting(int delta) {
        kvWaiting.addAndGet(delta);
    }

    void firstToken(long nanos) {
        firstToken.add(nanos);
    }

    void interToken(long nanos) {
        interToken.add(nanos);
    }

    String prometheus(int queued, int active) {
        StringBuilder b = new StringBuilder();
        b.append("# HELP panamax_requests_total HTTP requests answered, by route and status (499: the client went away)\n");
        b.append("# TYPE panamax_requests_total counter\n");
        new TreeMap<>(requests).forEach((labels, n) -> b.append("panamax_requests_total{").append(labels).append("} ").append(n.get()).append('\n'));
        counter(b, "panamax_prompt_tokens_total", "prompt tokens processed (embedding inputs included)", promptTokens.get());
        counter(b, "panamax_generated_tokens_total", "tokens generated", generatedTokens.get());
        gauge(b, "panamax_queue_depth", "requests waiting for a slot", queued);
        gauge(b, "panamax_active_requests", "requests holding a slot (generating or embedding)", active);
        gauge(b, "panamax_kv_cache_reserved_bytes", "KV cache the running requests may grow to, together (bounded by --kv-memory)", kvReserved.get());
        gauge(b, "panamax_kv_cache_waiting_requests", "requests holding a slot and waiting for KV cache memory", kvWaiting.get());
        gauge(b, "panamax_batch_size", "tokens in the latest batched step", lastBatch.get());
        counter(b, "panamax_decode_steps_total", "batched steps (each reads the weights once for all its tokens)", steps.get());
        counter(b, "panamax_decode_step_tokens_total", "tokens fed over all steps: decoded ones and short prompts' (divided by the steps: the mean batch)", stepSequences.get());
        stepTime.write(b, "panamax_decode_step_seconds", "the duration of a batched decoding step");
        firstToken.write(b, "panamax_time_to_first_token_seconds", "from a request's arrival to its first generated text");
        interToken.write(b, "panamax_inter_token_latency_seconds", "between a request's successive pieces of text");
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name).append(" counter\n");
        b.append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name).append(" gauge\n");
        b.append(name).append(' ').append(v).append('\n');
    }
}
