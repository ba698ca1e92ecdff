package dev.panamax.serve;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.panamax.runtime.EmbeddingOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.BatchedDecoder;
import dev.panamax.runtime.generate.Cancellation;
import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.generate.StopReason;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.model.LanguageModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * An OpenAI-compatible HTTP server over one loaded model: {@code POST /v1/chat/completions},
 * {@code /v1/completions}, {@code /v1/embeddings}, {@code GET /v1/models}, {@code /health},
 * {@code /metrics}. The JDK's {@code jdk.httpserver} on virtual threads; no dependency.
 *
 * <pre>{@code
 * try (var model = Panamax.loadDefault();
 *      var server = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(8080))) {
 *     server.awaitClose();
 * }
 * }</pre>
 *
 * <p>Each request generates in its own session over the shared weights, at most {@code parallel}
 * at a time; up to {@code queue} more wait for a slot, and beyond that a request gets 503 with
 * {@code Retry-After}. The running requests decode together ({@link BatchedDecoder}: one step for
 * all of them, each weight matrix read once per step), and because each sequence in a step computes
 * exactly as it would alone, a request's output does not depend on what else the server is doing. A streaming client that goes away cancels its
 * generation before the next token and frees its slot.
 */
public final class OpenAiServer implements AutoCloseable {

    /**
     * How the server listens and admits work.
     *
     * @param host     the address to bind (loopback unless told otherwise)
     * @param port     0 for any free port
     * @param apiKey   when not null, every {@code /v1} route wants {@code Authorization: Bearer KEY}
     * @param parallel requests generating at once
     * @param queue    requests waiting for a slot before new ones get 503
     * @param maxBody  the largest request body, in bytes (413 above)
     * @param modelId  the model's name in {@code /v1/models} and in responses
     * @param grace    how long {@link #close} lets running requests finish before cancelling them
     * @param warmUp   how long {@link #start} decodes synthetic batches before accepting requests
     * @param kvMemory bytes the running requests' KV caches may take together (0: half the Java heap)
     * @param heartbeat how long a non-streaming answer may take before the server commits to 200 and
     *                  sends a space (JSON allows leading white space) this often while it generates:
     *                  a client that went away is then seen, and its slot freed, within two beats
     */
    public record Options(String host, int port, String apiKey, int parallel, int queue, int maxBody, String modelId, Duration grace, Duration warmUp,
                          long kvMemory, Duration heartbeat) {
        public Options {
            if (parallel < 1) throw new IllegalArgumentException("parallel must be at least 1, got " + parallel);
            if (queue < 0) throw new IllegalArgumentException("queue must be at least 0, got " + queue);
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0 to 65535, got " + port);
            if (warmUp.isNegative()) throw new IllegalArgumentException("warmUp must not be negative, got " + warmUp);
            if (kvMemory < 0) throw new IllegalArgumentException("kvMemory must not be negative, got " + kvMemory);
            if (heartbeat.isNegative() || heartbeat.isZero()) throw new IllegalArgumentException("heartbeat must be positive, got " + heartbeat);
        }

        /** Loopback port 8080, no key, 4 parallel, a queue of 64, 4 MiB bodies, 10 s grace, no warm-up, caches up to half the heap, 1 s heartbeats. */
        public static Options defaults() {
            return new Options("127.0.0.1", 8080, null, 4, 64, 4 << 20, "panamax", Duration.ofSeconds(10), Duration.ZERO, 0, Duration.ofSeconds(1));
        }

        public Options withHost(String v) { return new Options(v, port, apiKey, parallel, queue, maxBody, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withPort(int v) { return new Options(host, v, apiKey, parallel, queue, maxBody, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withApiKey(String v) { return new Options(host, port, v, parallel, queue, maxBody, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withParallel(int v) { return new Options(host, port, apiKey, v, queue, maxBody, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withQueue(int v) { return new Options(host, port, apiKey, parallel, v, maxBody, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withMaxBody(int v) { return new Options(host, port, apiKey, parallel, queue, v, modelId, grace, warmUp, kvMemory, heartbeat); }
        public Options withModelId(String v) { return new Options(host, port, apiKey, parallel, queue, maxBody, v, grace, warmUp, kvMemory, heartbeat); }
        public Options withGrace(Duration v) { return new Options(host, port, apiKey, parallel, queue, maxBody, modelId, v, warmUp, kvMemory, heartbeat); }
        /** Decode synthetic batches this long before accepting requests, so the first users meet compiled kernels. */
        public Options withWarmUp(Duration v) { return new Options(host, port, apiKey, parallel, queue, maxBody, modelId, grace, v, kvMemory, heartbeat); }
        /** Bytes all running requests' KV caches may take together (0: half the Java heap); a request waits until its cache fits. */
        public Options withKvMemory(long v) { return new Options(host, port, apiKey, parallel, queue, maxBody, modelId, grace, warmUp, v, heartbeat); }

        /** A non-streaming answer's heartbeat (see {@link Options}). */
        public Options withHeartbeat(Duration v) { return new Options(host, port, apiKey, parallel, queue, maxBody, modelId, grace, warmUp, kvMemory, v); }

        /** {@link #kvMemory}, its default resolved. */
        long kvBudget() {
            return kvMemory > 0 ? kvMemory : Runtime.getRuntime().maxMemory() / 2;
        }
    }

    private final Panamax model;
    private final Options options;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore slots;
    private final AtomicInteger waiting = new AtomicInteger();
    private final Set<Cancellation> running = ConcurrentHashMap.newKeySet();
    private final Metrics metrics = new Metrics();
    private final AtomicLong counter = new AtomicLong();
    private final Object closeLock = new Object();
    private volatile boolean closing;
    private boolean closed;

    /** The decoding steps of all running generations, batched; null for an encoder. */
    private final BatchedDecoder batched;

    private OpenAiServer(Panamax model, Options options) throws IOException {
        this.model = model;
        this.options = options;
        LanguageModel lm = null;
        try {
            lm = model.model();
        } catch (ModelException encoder) {
            // embeddings only
        }
        this.batched = lm == null ? null : new BatchedDecoder(lm, options.parallel(), BATCH_WAIT, metrics::step);
        this.slots = new Semaphore(options.parallel(), true);
        noDelay();
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /**
     * TCP_NODELAY on the server's connections ({@code sun.net.httpserver.nodelay}, which the JDK's server
     * reads once, when it first creates a server; off by default): without it a streamed token, a small
     * write, waited for the client's delayed acknowledgement of the one before — tokens arrived in
     * bursts ~40 ms apart (inter-token latency p99 45.6 ms with one stream, 7.0 ms with it;
     * docs/benchmarks.md). A value the user set is kept.
     */
    static void noDelay() {
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    /** Binds, warms up ({@link Options#warmUp}) and starts serving; the returned server is running. */
    public static OpenAiServer start(Panamax model, Options options) throws IOException {
        OpenAiServer s = new OpenAiServer(model, options);
        s.warmUp();
        s.http.start();
        return s;
    }

    /**
     * Synthetic work through the paths requests take — short prompts as rows of a step, a longer
     * prompt on its own, batched steps of up to four sequences, single steps — until
     * {@link Options#warmUp} has passed (at least once): a fresh JVM runs its kernels interpreted
     * until the JIT has compiled them, and the first users would otherwise wait for that
     * (TinyLlama Q8_0, four streams on a fresh server: 25 tokens/s against 40 once warm).
     */
    private void warmUp() {
        if (batched == null || options.warmUp().isZero()) return;
        LanguageModel lm = batched.model();
        java.util.Random r = new java.util.Random(7);
        int B = Math.min(options.parallel(), 4), context = lm.contextLength();
        long end = System.nanoTime() + options.warmUp().toNanos();
        do {
            LanguageModel.Session[] s = new LanguageModel.Session[B];
            for (int b = 0; b < B; b++) {
                s[b] = lm.newSession();
                s[b].prefill(r.ints(Math.min(b == 0 ? 24 : 8, context / 4), 0, lm.vocabSize()).toArray(), false);
            }
            for (int step = 0; step < 4 && s[0].position() + 1 < context; step++) {
                if (B > 1) lm.decodeStep(s, r.ints(B, 0, lm.vocabSize()).toArray());
                s[0].forward(r.nextInt(lm.vocabSize()));
            }
        } while (System.nanoTime() < end);
    }

    /** The port it listens on (useful with port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** Blocks until {@link #close} has finished (from another thread, or a signal handler). */
    public void awaitClose() throws InterruptedException {
        synchronized (closeLock) {
            while (!closed) closeLock.wait();
        }
    }

    /**
     * Graceful stop: new requests get 503 at once, running ones have {@link Options#grace} to finish,
     * then are cancelled (a stream ends with its finish reason); then the socket closes.
     */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) return;
            closing = true;
        }
        long deadline = System.nanoTime() + options.grace().toNanos();
        while (slots.availablePermits() < options.parallel() && System.nanoTime() < deadline) {
            sleep(20);
        }
        for (Cancellation c : running) c.cancel();
        long after = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (slots.availablePermits() < options.parallel() && System.nanoTime() < after) sleep(20);
        http.stop(0);
        executor.shutdownNow();
        if (batched != null) batched.close();
        synchronized (closeLock) {
            closed = true;
            closeLock.notifyAll();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- routing --------------------------------------------------------------------------------

    /** An answer other than 200: OpenAI's error object with this status. */
    static final class ApiError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final String type, param, code;
        final Map<String, String> headers = new LinkedHashMap<>();

        ApiError(int status, String message, String type, String param, String code) {
            super(message);
            this.status = status;
            this.type = type;
            this.param = param;
            this.code = code;
        }

        static ApiError badRequest(String param, String message) {
            return new ApiError(400, message, "invalid_request_error", param, null);
        }
    }

    private void handle(HttpExchange ex) {
        String route = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        int status = 200;
        try (ex) {
            try {
                if (route.startsWith("/v1/") && options.apiKey() != null) authorize(ex);
                switch (route) {
                    case "/health" -> {
                        want(method, "GET");
                        send(ex, 200, Map.of("status", closing ? "stopping" : "ok"));
                    }
                    case "/metrics" -> {
                        want(method, "GET");
                        byte[] text = metrics.prometheus(waiting.get(), options.parallel() - slots.availablePermits()).getBytes(StandardCharsets.UTF_8);
                        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                        ex.sendResponseHeaders(200, text.length);
                        ex.getResponseBody().write(text);
                    }
                    case "/v1/models" -> {
                        want(method, "GET");
                        send(ex, 200, ordered("object", "list", "data", List.of(modelObject())));
                    }
                    case "/v1/chat/completions" -> {
                        want(method, "POST");
                        complete(ex, body(ex), true);
                    }
                    case "/v1/completions" -> {
                        want(method, "POST");
                        complete(ex, body(ex), false);
                    }
                    case "/v1/embeddings" -> {
                        want(method, "POST");
                        embeddings(ex, body(ex));
                    }
                    default -> {
                        if (route.startsWith("/v1/models/") && route.substring(11).equals(options.modelId())) {
                            want(method, "GET");
                            send(ex, 200, modelObject());
                        } else {
                            throw new ApiError(404, "no route " + method + " " + route, "invalid_request_error", null, "not_found");
                        }
                    }
                }
            } catch (ApiError e) {
                status = e.status;
                error(ex, e);
            } catch (Json.JsonException e) {
                status = 400;
                error(ex, ApiError.badRequest(null, "the request body is not valid JSON: " + e.getMessage()));
            } catch (ModelException e) {
                status = 400; // the model refused this input (too long for its context, an encoder asked to generate, ...)
                error(ex, ApiError.badRequest(null, e.getMessage()));
            } catch (IOException e) {
                status = 499; // the client went away
            } catch (RuntimeException e) {
                status = 500;
                System.getLogger("dev.panamax.serve").log(System.Logger.Level.ERROR, "request " + method + " " + route + " failed", e);
                error(ex, new ApiError(500, "internal error: " + e, "server_error", null, null));
            }
        } finally {
            metrics.request(route, status);
        }
    }

    private Map<String, Object> modelObject() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", options.modelId());
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "panamax");
        return m;
    }

    private void authorize(HttpExchange ex) {
        String got = ex.getRequestHeaders().getFirst("Authorization");
        byte[] want = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (got == null || !MessageDigest.isEqual(want, got.getBytes(StandardCharsets.UTF_8))) {
            ApiError e = new ApiError(401, got == null ? "missing API key: send Authorization: Bearer KEY" : "incorrect API key", "invalid_request_error",
                    null, "invalid_api_key");
            e.headers.put("WWW-Authenticate", "Bearer");
            throw e;
        }
    }

    private static void want(String method, String wanted) {
        if (!method.equals(wanted)) {
            ApiError e = new ApiError(405, "use " + wanted + " here, not " + method, "invalid_request_error", null, "method_not_allowed");
            e.headers.put("Allow", wanted);
            throw e;
        }
    }

    private Map<String, Object> body(HttpExchange ex) throws IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw ApiError.badRequest(null, "bad Content-Length '" + length + "'");
            }
            if (n > options.maxBody()) throw tooLarge();
        }
        InputStream in = ex.getRequestBody();
        byte[] bytes = in.readNBytes(options.maxBody() + 1);
        if (bytes.length > options.maxBody()) throw tooLarge();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw ApiError.badRequest(null, "the request body is not UTF-8");
        }
        if (text.isBlank()) throw ApiError.badRequest(null, "the request body is empty: send a JSON object");
        Object v = Json.parse(text);
        if (!(v instanceof Map<?, ?>)) throw ApiError.badRequest(null, "the request body should be a JSON object");
        return Json.object(v, "body");
    }

    private ApiError tooLarge() {
        return new ApiError(413, "the request body is larger than " + options.maxBody() + " bytes", "invalid_request_error", null, "request_too_large");
    }

    private void send(HttpExchange ex, int status, Object json) throws IOException {
        byte[] bytes = JsonOut.write(json).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    private void error(HttpExchange ex, ApiError e) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("message", e.getMessage());
        err.put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        e.headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        // A body refused as too large is left unread: the connection cannot carry another request, and
        // a client must be told so, or it may send its next request into a connection being closed.
        if (e.status == 413) ex.getResponseHeaders().set("Connection", "close");
        try {
            send(ex, e.status, Map.of("error", err));
        } catch (IOException | IllegalStateException ignored) {
            // headers already sent (a stream that failed part-way) or the client is gone
        }
    }

    // ---- admission ------------------------------------------------------------------------------

    /** Waits for a generation slot, or refuses at once when the queue is full or the server stopping. */
    private void admit() {
        if (closing) throw unavailable("the server is shutting down");
        if (slots.tryAcquire()) return;
        if (waiting.incrementAndGet() > options.queue()) {
            waiting.decrementAndGet();
            throw unavailable("all " + options.parallel() + " slots are busy and " + options.queue() + " requests are waiting: try again shortly");
        }
        try {
            slots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable("interrupted while waiting for a slot");
        } finally {
            waiting.decrementAndGet();
        }
        if (closing) {
            slots.release();
            throw unavailable("the server is shutting down");
        }
    }

    private static ApiError unavailable(String why) {
        ApiError e = new ApiError(503, why, "server_error", null, "overloaded");
        e.headers.put("Retry-After", "1");
        return e;
    }

    // ---- completions ----------------------------------------------------------------------------

    private void complete(HttpExchange ex, Map<String, Object> req, boolean chat) throws IOException {
        Request r = Request.parse(req, chat);
        String prompt;
        GenerationOptions o = r.options();
        if (chat) {
            ChatTemplate template = ChatTemplate.detect(model.model().chatTemplate());
            prompt = template.format(r.messages());
            if (!template.endOfTurn.isEmpty()) {
                List<String> stops = new ArrayList<>(o.stop());
                stops.add(template.endOfTurn);
                o = o.withStop(stops);
            }
        } else {
            prompt = r.prompt();
            model.model(); // an encoder says here that it does not generate
        }
        int[] ids = model.encode(prompt);
        int context = model.model().contextLength();
        if (ids.length >= context) {
            throw ApiError.badRequest(chat ? "messages" : "prompt", "the prompt is " + ids.length + " tokens; this model's context is " + context + " tokens");
        }
        // The KV cache this request may grow to: it must fit the server's bound, and waits below until it does.
        long cache = Math.max(0, batched.sessionBytes((int) Math.min(context, (long) ids.length + o.maxTokens())));
        if (cache > options.kvBudget()) {
            throw ApiError.badRequest(r.maxTokensName(), String.format(java.util.Locale.ROOT,
                    "this request's KV cache (%d prompt tokens and up to %d more) would take %.1f MiB; the server keeps at most %.1f MiB for its requests' caches",
                    ids.length, o.maxTokens(), cache / 1048576.0, options.kvBudget() / 1048576.0));
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + Long.toHexString(System.currentTimeMillis()) + "-" + counter.incrementAndGet();
        long created = System.currentTimeMillis() / 1000;
        Cancellation cancel = new Cancellation();
        long arrived = System.nanoTime();
        admit();
        running.add(cancel);
        try {
            reserve(cache, cancel);
        } catch (RuntimeException e) {
            running.remove(cancel);
            slots.release();
            throw e;
        }
        try {
            if (r.stream()) {
                stream(ex, r, chat, id, created, ids, o, cancel, arrived);
            } else {
                Timing t = new Timing(arrived);
                Heartbeat beat = new Heartbeat(ex, options.heartbeat(), cancel);
                Generator.Result res = generate(ids, o, text -> {
                    t.token();
                    beat.beat();
                }, cancel);
                metrics.generation(res.promptIds().length, res.generatedIds().length);
                if (beat.gone) throw new IOException("the client went away");
                beat.answer(answer(chat, id, created, res));
            }
        } finally {
            running.remove(cancel);
            release(cache);
            slots.release();
        }
    }

    /** Bytes of KV cache the running requests may grow to, together (at most {@link Options#kvBudget}). */
    private long reserved;
    private final Object budgetLock = new Object();

    /** Waits until {@code bytes} more fit the bound, then takes them; a request cancelled meanwhile (shutdown) gets 503. */
    private void reserve(long bytes, Cancellation cancel) {
        synchronized (budgetLock) {
            boolean waits = reserved + bytes > options.kvBudget();
            if (waits) metrics.kvWaiting(1);
            try {
                while (reserved + bytes > options.kvBudget()) {
                    if (closing || cancel.isCancelled()) throw unavailable("the server is shutting down");
                    budgetLock.wait(50);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw unavailable("interrupted while waiting for memory");
            } finally {
                if (waits) metrics.kvWaiting(-1);
            }
            reserved += bytes;
            metrics.kvReserved(reserved);
        }
    }

    private void release(long bytes) {
        synchronized (budgetLock) {
            reserved -= bytes;
            metrics.kvReserved(reserved);
            budgetLock.notifyAll();
        }
    }

    /**
     * How long a batched step waits for the previous step's sequences to send their next token (a
     * client slow to take its text delays the others by at most this, then decodes a step later).
     */
    static final Duration BATCH_WAIT = Duration.ofMillis(2);

    /** A generation whose decoding steps join the running ones' ({@link BatchedDecoder}). */
    private Generator.Result generate(int[] ids, GenerationOptions o, Consumer<String> onText, Cancellation cancel) {
        if (model.isClosed()) throw new ModelException("the model has been closed");
        return Generator.generate(batched, ids, o, onText, null, null, cancel);
    }

    /** Records time to first token and the gaps between tokens. */
    private final class Timing {
        private long last;
        private boolean first = true;

        Timing(long start) {
            last = start;
        }

        void token() {
            long now = System.nanoTime();
            if (first) metrics.firstToken(now - last);
            else metrics.interToken(now - last);
            first = false;
            last = now;
        }
    }

    private Map<String, Object> answer(boolean chat, String id, long created, Generator.Result res) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) {
            choice.put("message", ordered("role", "assistant", "content", res.text()));
        } else {
            choice.put("text", res.text());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason(res.stopReason()));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("object", chat ? "chat.completion" : "text_completion");
        m.put("created", created);
        m.put("model", options.modelId());
        m.put("choices", List.of(choice));
        m.put("usage", usage(res));
        return m;
    }

    /** A JSON object with its keys in the order given (clients and diffs read it as written). */
    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static String finishReason(StopReason r) {
        return switch (r) {
            case MAX_TOKENS, CONTEXT_FULL -> "length";
            case END_OF_TEXT, STOP_STRING, CANCELLED -> "stop";
        };
    }

    private static Map<String, Object> usage(Generator.Result res) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", res.promptIds().length);
        u.put("completion_tokens", res.generatedIds().length);
        u.put("total_tokens", res.promptIds().length + res.generatedIds().length);
        return u;
    }

    /**
     * A non-streaming answer that takes long: once it has taken {@code every}, the response is
     * committed (200, chunked) and a space is written every {@code every} as tokens come, so a
     * client that has gone away makes a write fail and the generation is cancelled — the only way to
     * see a disconnect through the JDK's server when nothing else is written. A quick answer is sent
     * as before, with its length.
     */
    private final class Heartbeat {
        private final HttpExchange ex;
        private final long every, start = System.nanoTime();
        private final Cancellation cancel;
        private long last;
        private boolean committed;
        volatile boolean gone;

        Heartbeat(HttpExchange ex, Duration every, Cancellation cancel) {
            this.ex = ex;
            this.every = every.toNanos();
            this.cancel = cancel;
        }

        void beat() {
            long now = System.nanoTime();
            if (gone || now - start < every || (committed && now - last < every)) return;
            try {
                if (!committed) {
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, 0);
                    committed = true;
                }
                ex.getResponseBody().write(' ');
                ex.getResponseBody().flush();
                last = now;
            } catch (IOException e) {
                gone = true; // the client went away: stop before the next token, free the slot
                cancel.cancel();
            }
        }

        void answer(Object json) throws IOException {
            if (!committed) {
                send(ex, 200, json);
                return;
            }
            ex.getResponseBody().write(JsonOut.write(json).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Server-sent events in OpenAI's chunk format, ending with {@code data: [DONE]}. */
    private void stream(HttpExchange ex, Request r, boolean chat, String id, long created, int[] ids, GenerationOptions o, Cancellation cancel, long arrived)
            throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        boolean[] gone = {false};
        Consumer<Object> event = json -> {
            if (gone[0]) return;
            try {
                out.write(("data: " + JsonOut.write(json) + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                gone[0] = true; // the client went away: stop before the next token, free the slot
                cancel.cancel();
            }
        };
        if (chat) event.accept(chunk(true, id, created, ordered("role", "assistant", "content", ""), null));
        Timing t = new Timing(arrived);
        Generator.Result res = generate(ids, o, text -> {
            t.token();
            event.accept(chunk(chat, id, created, chat ? Map.of("content", text) : text, null));
        }, cancel);
        metrics.generation(res.promptIds().length, res.generatedIds().length);
        if (gone[0]) throw new IOException("the client went away");
        event.accept(chunk(chat, id, created, chat ? Map.of() : "", finishReason(res.stopReason())));
        if (r.includeUsage()) {
            Map<String, Object> u = new LinkedHashMap<>();
            u.put("id", id);
            u.put("object", chat ? "chat.completion.chunk" : "text_completion");
            u.put("created", created);
            u.put("model", options.modelId());
            u.put("choices", List.of());
            u.put("usage", usage(res));
            event.accept(u);
        }
        if (!gone[0]) {
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private Map<String, Object> chunk(boolean chat, String id, long created, Object delta, String finish) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) choice.put("delta", delta);
        else choice.put("text", delta);
        choice.put("logprobs", null);
        choice.put("finish_reason", finish);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("object", chat ? "chat.completion.chunk" : "text_completion");
        m.put("created", created);
        m.put("model", options.modelId());
        m.put("choices", List.of(choice));
        return m;
    }

    // ---- embeddings -----------------------------------------------------------------------------

    private void embeddings(HttpExchange ex, Map<String, Object> req) throws IOException {
        Object input = req.get("input");
        List<int[]> texts = new ArrayList<>();
        if (input instanceof String s) {
            texts.add(model.encode(s));
        } else if (input instanceof List<?> l && !l.isEmpty()) {
            if (l.stream().allMatch(x -> x instanceof Number)) {
                texts.add(Request.ids(l, "input"));
            } else {
                for (int i = 0; i < l.size(); i++) {
                    Object x = l.get(i);
                    if (x instanceof String s) texts.add(model.encode(s));
                    else if (x instanceof List<?> tl && !tl.isEmpty()) texts.add(Request.ids(tl, "input[" + i + "]"));
                    else throw ApiError.badRequest("input", "input[" + i + "] should be a string or an array of token ids");
                }
            }
        } else {
            throw ApiError.badRequest("input", "input should be a string, an array of strings, or token ids (and not empty)");
        }
        if (texts.size() > 2048) throw ApiError.badRequest("input", "at most 2048 inputs a request, got " + texts.size());
        Object format = req.getOrDefault("encoding_format", "float");
        if (!"float".equals(format) && !"base64".equals(format)) {
            throw ApiError.badRequest("encoding_format", "encoding_format should be \"float\" or \"base64\"");
        }
        admit();
        List<float[]> vectors;
        try {
            vectors = model.embedIds(texts, EmbeddingOptions.defaults());
        } finally {
            slots.release();
        }
        List<Object> data = new ArrayList<>();
        int tokens = 0;
        for (int i = 0; i < vectors.size(); i++) {
            tokens += texts.get(i).length;
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("object", "embedding");
            d.put("index", i);
            d.put("embedding", "base64".equals(format) ? base64(vectors.get(i)) : vectors.get(i));
            data.add(d);
        }
        metrics.generation(tokens, 0);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("object", "list");
        m.put("data", data);
        m.put("model", options.modelId());
        m.put("usage", ordered("prompt_tokens", tokens, "total_tokens", tokens));
        send(ex, 200, m);
    }

    /** OpenAI's base64 form: the float32 values little-endian, base64-encoded. */
    static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return Base64.getEncoder().encodeToString(b.array());
    }
}
