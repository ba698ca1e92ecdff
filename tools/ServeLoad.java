import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A load generator for an OpenAI-compatible server ({@code panamax serve}, llama.cpp's
 * {@code llama-server}): for each concurrency level, that many clients each send {@code --requests}
 * streaming chat completions one after another, and it prints one Markdown row per level:
 * aggregate generated tokens/s (all clients' completion tokens over the level's wall time), time to
 * first token p50/p99 and the gap between streamed chunks (inter-token latency) p50/p99, and how
 * many requests failed (a status other than 200, or the connection lost).
 *
 * <pre>
 *   java tools/ServeLoad.java --url http://127.0.0.1:8080 [--streams 1,4,16,64] [--tokens 64]
 *        [--requests 2] [--label NAME] [--api-key KEY] [--completions] [--temperature 0]
 * </pre>
 *
 * Requests are greedy ({@code temperature 0}; {@code --temperature T} samples, each request with its own
 * seed, the servers' other sampling defaults) over a few different prompts, each numbered so none
 * shares a prefix with another (no prompt-cache hits), with
 * {@code ignore_eos} (llama-server honours it; Panamax ignores the field) and
 * {@code stream_options.include_usage}; completion tokens are read from the usage both servers send
 * in their last chunk (a stream without one counts its content chunks). Needs JDK 17 or later; no
 * dependencies (the JSON is read with two regular expressions, enough for these fields).
 */
public class ServeLoad {
    static final String[] PROMPTS = {
        "In the beginning God created the heaven and the earth.",
        "And it came to pass in those days,",
        "The LORD is my shepherd; I shall not want.",
        "Blessed are the poor in spirit:",
        "And God said, Let there be light:",
        "Now the serpent was more subtil than any beast of the field",
        "Honour thy father and thy mother:",
        "For God so loved the world,",
    };

    static final Pattern CONTENT = Pattern.compile("\"(?:content|text)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\"\\s*:\\s*(\\d+)");

    record Run(long ttftNanos, List<Long> gaps, int tokens, int status) {}

    public static void main(String[] args) throws Exception {
        String url = "http://127.0.0.1:8080", label = "server", key = null;
        List<Integer> levels = List.of(1, 4, 16, 64);
        int tokens = 64, requests = 2;
        boolean completions = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i];
                case "--streams" -> levels = parseInts(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--requests" -> requests = Integer.parseInt(args[++i]);
                case "--label" -> label = args[++i];
                case "--api-key" -> key = args[++i];
                case "--completions" -> completions = true;
                case "--temperature" -> TEMPERATURE = Float.parseFloat(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: java tools/ServeLoad.java --url URL [--streams 1,4,16,64] [--tokens N] [--requests N] [--label NAME] [--api-key KEY] [--completions] [--temperature T]");
                    System.exit(2);
                }
            }
        }
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        // One request first, so neither server is timed on its first (cold) request.
        one(http, url, key, completions, unique(PROMPTS[0]), Math.min(tokens, 8));
        System.out.println("| server | streams | requests | tokens | wall s | tokens/s | TTFT p50 / p99 ms | ITL p50 / p99 ms | failed |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int n : levels) {
            List<Run> runs = Collections.synchronizedList(new ArrayList<>());
            long t0 = System.nanoTime();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> clients = new ArrayList<>();
                for (int c = 0; c < n; c++) {
                    int client = c;
                    String u = url, k = key;
                    int tk = tokens, rq = requests;
                    boolean cp = completions;
                    clients.add(pool.submit(() -> {
                        for (int r = 0; r < rq; r++) {
                            try {
                                runs.add(one(http, u, k, cp, unique(PROMPTS[(client + r) % PROMPTS.length]), tk));
                            } catch (java.io.IOException e) { // counted as a failed request (the last column), not the end of the run
                                System.err.println("request failed: " + e);
                                runs.add(new Run(-1, List.of(), 0, -1));
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : clients) f.get();
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            List<Long> ttft = new ArrayList<>(), gaps = new ArrayList<>();
            int generated = 0, failed = 0;
            for (Run r : runs) {
                if (r.status != 200) {
                    failed++;
                    continue;
                }
                generated += r.tokens;
                if (r.ttftNanos >= 0) ttft.add(r.ttftNanos);
                gaps.addAll(r.gaps);
            }
            if (System.getenv("SERVELOAD_TTFTS") != null) { // every time to first token, in order of the requests' ends (ms)
                StringBuilder all = new StringBuilder("TTFTs at " + n + " streams, ms:");
                for (long t : ttft) all.append(' ').append(Math.round(t / 1e6));
                System.err.println(all);
            }
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %d | %.2f | %.1f | %.0f / %.0f | %.1f / %.1f | %d |%n", label, n, runs.size(), generated, wall,
                    generated / wall, ms(pct(ttft, 50)), ms(pct(ttft, 99)), ms(pct(gaps, 50)), ms(pct(gaps, 99)), failed);
        }
    }

    static final java.util.concurrent.atomic.AtomicInteger REQUESTS = new java.util.concurrent.atomic.AtomicInteger();

    /** The requests' temperature: 0 (greedy), or sampled, each request with a seed. */
    static float TEMPERATURE = 0;

    /**
     * The prompt with the request's number in front: no two prompts share a prefix, so a server's
     * prompt cache (llama-server keeps each slot's last prompt) finds nothing to reuse, as with real
     * users' different conversations.
     */
    static String unique(String prompt) {
        return "(" + REQUESTS.incrementAndGet() + ") " + prompt;
    }

    static Run one(HttpClient http, String url, String key, boolean completions, String prompt, int tokens) throws Exception {
        String escaped = prompt.replace("\\", "\\\\").replace("\"", "\\\"");
        String body = completions
                ? "{\"model\":\"m\",\"prompt\":\"" + escaped + "\""
                : "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + escaped + "\"}]";
        String sampling = TEMPERATURE == 0 ? "\"temperature\":0" : "\"temperature\":" + TEMPERATURE + ",\"seed\":" + REQUESTS.get();
        body += ",\"max_tokens\":" + tokens + "," + sampling + ",\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + (completions ? "/v1/completions" : "/v1/chat/completions")))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) b.header("Authorization", "Bearer " + key);
        long start = System.nanoTime(), last = -1, ttft = -1;
        List<Long> gaps = new ArrayList<>();
        int chunks = 0, usage = -1;
        HttpResponse<java.util.stream.Stream<String>> res = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
        if (res.statusCode() != 200) {
            res.body().close();
            return new Run(-1, List.of(), 0, res.statusCode());
        }
        try (var lines = res.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                long now = System.nanoTime();
                Matcher u = COMPLETION_TOKENS.matcher(line);
                if (u.find()) usage = Integer.parseInt(u.group(1));
                Matcher c = CONTENT.matcher(line);
                if (c.find() && !c.group(1).isEmpty()) {
                    chunks++;
                    if (ttft < 0) ttft = now - start;
                    else gaps.add(now - last);
                    last = now;
                }
            }
        }
        return new Run(ttft, gaps, usage >= 0 ? usage : chunks, 200);
    }

    static List<Integer> parseInts(String s) {
        List<Integer> out = new ArrayList<>();
        for (String p : s.split(",")) out.add(Integer.parseInt(p.trim()));
        return out;
    }

    static long pct(List<Long> xs, int p) {
        if (xs.isEmpty()) return -1;
        List<Long> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }

    static double ms(long nanos) {
        return nanos < 0 ? Double.NaN : nanos / 1e6;
    }
}
