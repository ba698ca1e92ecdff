package dev.panamax.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.json.Json;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The server over the embedded model, spoken to over a loopback socket as any HTTP client would. */
class OpenAiServerTest {
    static Panamax model;
    static OpenAiServer server;
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        model = Panamax.loadDefault();
        server = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withApiKey("sesame").withModelId("kjv-llama").withParallel(3).withMaxBody(1 << 16));
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    static HttpResponse<String> post(OpenAiServer s, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return post(server, path, body, "sesame");
    }

    static HttpResponse<String> get(String path, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static Map<String, Object> json(HttpResponse<String> r) {
        return Json.object(Json.parse(r.body()), "response");
    }

    @SuppressWarnings("unchecked")
    static <T> T at(Object v, Object... path) {
        for (Object p : path) v = p instanceof Integer i ? ((List<Object>) v).get(i) : ((Map<String, Object>) v).get(p);
        return (T) v;
    }

    static String chatBody(String user, int maxTokens, String extra) {
        return "{\"model\":\"kjv-llama\",\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],\"max_tokens\":" + maxTokens + extra + "}";
    }

    /** What the library gives for the same chat, alone in this JVM's own session. */
    static String alone(String user, GenerationOptions o) {
        String prompt = ChatTemplate.detect(model.model().chatTemplate()).format(List.of(new ChatTemplate.Message("user", user)));
        return model.generate(prompt, o, t -> {}).text();
    }

    /** The server's connections send each streamed token at once (TCP_NODELAY: {@link OpenAiServer#noDelay}). */
    @Test
    void connectionsAreMadeWithoutNagleDelay() {
        assertEquals("true", System.getProperty("sun.net.httpserver.nodelay"));
    }

    @Test
    void healthModelsAndTheErrorsOfTheRoutes() throws Exception {
        assertEquals(200, get("/health", null).statusCode());
        HttpResponse<String> models = get("/v1/models", "sesame");
        assertEquals("kjv-llama", at(json(models), "data", 0, "id"));
        HttpResponse<String> noKey = get("/v1/models", null);
        assertEquals(401, noKey.statusCode());
        assertEquals("invalid_api_key", at(json(noKey), "error", "code"));
        assertEquals(401, get("/v1/models", "wrong").statusCode());
        assertEquals(401, post(server, "/v1/chat/completions", chatBody("hi", 2, ""), null).statusCode());
        assertEquals(404, get("/v1/nothing", "sesame").statusCode());
        assertEquals(405, get("/v1/chat/completions", "sesame").statusCode());
        HttpResponse<String> big = post("/v1/completions", "{\"prompt\":\"" + "a".repeat(1 << 16) + "\"}");
        assertEquals(413, big.statusCode());
        assertEquals("close", big.headers().firstValue("connection").orElse(null), "the unread body's connection is closed, and said to be");
        assertEquals(200, get("/v1/models", "sesame").statusCode(), "the next request on a fresh connection");
    }

    @Test
    void badRequestsAre400WithTheFieldNamed() throws Exception {
        record Case(String body, String param) {}
        for (Case c : List.of(new Case("{\"messages\":[]}", "messages"), new Case(chatBody("hi", -1, ""), "max_tokens"),
                new Case("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":\"ten\"}", "max_tokens"),
                new Case(chatBody("hi", 4, ",\"n\":2"), "n"), new Case(chatBody("hi", 4, ",\"temperature\":3"), "temperature"),
                new Case(chatBody("hi", 4, ",\"stop\":7"), "stop"), new Case("{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", "messages[0].role"),
                new Case(chatBody("hi", 4, ",\"stream\":\"yes\""), "stream"))) {
            HttpResponse<String> r = post("/v1/chat/completions", c.body());
            assertEquals(400, r.statusCode(), c.body() + " -> " + r.body());
            assertEquals(c.param(), at(json(r), "error", "param"), r.body());
            assertEquals("invalid_request_error", at(json(r), "error", "type"));
        }
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": [").statusCode());
        HttpResponse<String> tooLong = post("/v1/completions", "{\"prompt\":\"" + "In the beginning ".repeat(300) + "\",\"max_tokens\":4}");
        assertEquals(400, tooLong.statusCode(), tooLong.body());
        assertTrue(at(json(tooLong), "error", "message").toString().contains("this model's context is 512 tokens"), tooLong.body());
    }

    @Test
    void aChatAnswerIsTheLibrarysAnswerAndItsStreamTheSameText() throws Exception {
        String want = alone("In the beginning", GenerationOptions.greedy().withMaxTokens(12));
        HttpResponse<String> r = post("/v1/chat/completions", chatBody("In the beginning", 12, ",\"temperature\":0"));
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> body = json(r);
        assertEquals("chat.completion", body.get("object"));
        assertEquals(want, at(body, "choices", 0, "message", "content"));
        assertEquals("length", at(body, "choices", 0, "finish_reason"));
        assertEquals(12.0, ((Number) at(body, "usage", "completion_tokens")).doubleValue());

        HttpResponse<String> s = post("/v1/chat/completions", chatBody("In the beginning", 12, ",\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, s.statusCode());
        assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> events = new ArrayList<>();
        for (String line : s.body().split("\n")) if (line.startsWith("data: ")) events.add(line.substring(6));
        assertEquals("[DONE]", events.getLast());
        StringBuilder text = new StringBuilder();
        String finish = null;
        Number completion = null;
        for (String e : events.subList(0, events.size() - 1)) {
            Map<String, Object> c = Json.object(Json.parse(e), "chunk");
            assertEquals("chat.completion.chunk", c.get("object"));
            List<Object> choices = at(c, "choices");
            if (choices.isEmpty()) {
                completion = at(c, "usage", "completion_tokens");
                continue;
            }
            Object content = at(choices, 0, "delta", "content");
            if (content != null) text.append(content);
            if (at(choices, 0, "finish_reason") != null) finish = at(choices, 0, "finish_reason");
        }
        assertEquals(want, text.toString());
        assertEquals("length", finish);
        assertEquals(12, completion.intValue());
    }

    @Test
    void aSeedReproducesASampledCompletion() throws Exception {
        String body = "{\"prompt\":\"And God said\",\"max_tokens\":20,\"temperature\":1.0,\"seed\":1234}";
        HttpResponse<String> a = post("/v1/completions", body), b = post("/v1/completions", body);
        assertEquals(200, a.statusCode(), a.body());
        String text = at(json(a), "choices", 0, "text");
        assertEquals(text, at(json(b), "choices", 0, "text"));
        assertEquals(model.generate("And God said", GenerationOptions.defaults().withMaxTokens(20).withTemperature(1.0f).withSeed(1234), t -> {}).text(), text);
    }

    @Test
    void embeddingsAsFloatsAndAsBase64AreTheLibrarysVectors() throws Exception {
        List<float[]> want = model.embed(List.of("Let there be light", "and there was light"));
        HttpResponse<String> f = post("/v1/embeddings", "{\"model\":\"kjv-llama\",\"input\":[\"Let there be light\",\"and there was light\"]}");
        assertEquals(200, f.statusCode(), f.body());
        for (int i = 0; i < 2; i++) {
            List<Object> v = at(json(f), "data", i, "embedding");
            float[] got = new float[v.size()];
            for (int j = 0; j < got.length; j++) got[j] = ((Number) v.get(j)).floatValue();
            assertArrayEquals(want.get(i), got, 0f, "float values are written to round-trip exactly");
        }
        HttpResponse<String> b = post("/v1/embeddings", "{\"input\":\"and there was light\",\"encoding_format\":\"base64\"}");
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode((String) at(json(b), "data", 0, "embedding"))).order(ByteOrder.LITTLE_ENDIAN);
        float[] got = new float[bytes.remaining() / 4];
        for (int j = 0; j < got.length; j++) got[j] = bytes.getFloat();
        assertArrayEquals(want.get(1), got, 0f);
    }

    @Test
    void concurrentStreamsEachEqualTheirRunAlone() throws Exception {
        int n = 6; // more than the 3 slots: some wait in the queue
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String body = "{\"prompt\":\"And it came to pass\",\"max_tokens\":24,\"temperature\":0.9,\"seed\":" + (100 + i) + ",\"stream\":true}";
            futures.add(pool.submit(() -> post("/v1/completions", body)));
        }
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = futures.get(i).get();
            assertEquals(200, r.statusCode(), r.body());
            StringBuilder text = new StringBuilder();
            for (String line : r.body().split("\n")) {
                if (line.startsWith("data: {")) text.append((String) at(Json.parse(line.substring(6)), "choices", 0, "text"));
            }
            String alone = model.generate("And it came to pass", GenerationOptions.defaults().withMaxTokens(24).withTemperature(0.9f).withSeed(100 + i), t -> {}).text();
            assertEquals(alone, text.toString(), "stream " + i);
        }
        pool.shutdown();
    }

    /** A counter or gauge's value in {@code /metrics}' text. */
    static long metric(OpenAiServer s, String name) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/metrics")).build();
        for (String line : http.send(req, HttpResponse.BodyHandlers.ofString()).body().split("\n")) {
            if (line.startsWith(name + " ")) return Long.parseLong(line.substring(name.length() + 1).trim());
        }
        throw new AssertionError("no " + name + " in /metrics");
    }

    /**
     * Sixteen streams at once over sixteen slots, so they decode in shared steps (the metrics show
     * steps of more than one sequence): each, greedy or sampled, equals its run alone in the library.
     */
    @Test
    void sixteenStreamsDecodedTogetherEachEqualTheirRunAlone() throws Exception {
        String[] prompts = {"And it came to pass", "In the beginning", "The LORD is my shepherd", "And God said"};
        int n = 16;
        // With a warm-up too: its synthetic sessions leave nothing behind that could change an answer.
        try (OpenAiServer wide = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withParallel(n).withWarmUp(java.time.Duration.ofMillis(300)));
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<HttpResponse<String>>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String sampling = i % 4 == 0 ? "\"temperature\":0" : "\"temperature\":0.9,\"seed\":" + (500 + i);
                String body = "{\"prompt\":\"" + prompts[i % prompts.length] + "\",\"max_tokens\":40," + sampling + ",\"stream\":true}";
                futures.add(pool.submit(() -> post(wide, "/v1/completions", body, null)));
            }
            for (int i = 0; i < n; i++) {
                HttpResponse<String> r = futures.get(i).get();
                assertEquals(200, r.statusCode(), r.body());
                StringBuilder text = new StringBuilder();
                for (String line : r.body().split("\n")) {
                    if (line.startsWith("data: {")) text.append((String) at(Json.parse(line.substring(6)), "choices", 0, "text"));
                }
                GenerationOptions o = GenerationOptions.defaults().withMaxTokens(40);
                o = i % 4 == 0 ? o.withTemperature(0f) : o.withTemperature(0.9f).withSeed(500 + i);
                assertEquals(model.generate(prompts[i % prompts.length], o, t -> {}).text(), text.toString(), "stream " + i);
            }
            long steps = metric(wide, "panamax_decode_steps_total"), sequences = metric(wide, "panamax_decode_step_tokens_total");
            assertTrue(sequences > steps, sequences + " tokens in " + steps + " steps: the streams never shared a step");
        }
    }

    /**
     * A KV cache bound that holds one 128-position session and a half: a request that could never fit
     * is a 400 naming max_tokens; two that fit one at a time both run (the second waits for the
     * first's memory) and equal their runs alone; the memory is all given back.
     */
    @Test
    void theKvCacheBoundRefusesWhatCanNeverFitAndQueuesTheRest() throws Exception {
        long one = model.model().sessionBytes(128);
        assertTrue(one > 0 && model.model().sessionBytes(512) > 2 * one, one + " bytes");
        try (OpenAiServer tight = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withParallel(4).withKvMemory(one * 3 / 2));
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            HttpResponse<String> tooBig = post(tight, "/v1/completions", "{\"prompt\":\"And it came to pass\",\"max_tokens\":400}", null);
            assertEquals(400, tooBig.statusCode(), tooBig.body());
            assertEquals("max_tokens", at(json(tooBig), "error", "param"));
            assertTrue(((String) at(json(tooBig), "error", "message")).contains("MiB"), tooBig.body());
            List<Future<HttpResponse<String>>> both = new ArrayList<>();
            for (String p : new String[] {"And it came to pass", "In the beginning"}) {
                both.add(pool.submit(() -> post(tight, "/v1/completions", "{\"prompt\":\"" + p + "\",\"max_tokens\":60,\"temperature\":0}", null)));
            }
            int i = 0;
            for (String p : new String[] {"And it came to pass", "In the beginning"}) {
                HttpResponse<String> r = both.get(i++).get();
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(model.generate(p, GenerationOptions.defaults().withMaxTokens(60).withTemperature(0f), t -> {}).text(),
                        at(json(r), "choices", 0, "text"));
            }
            assertEquals(0, metric(tight, "panamax_kv_cache_reserved_bytes"));
        }
    }

    /**
     * A one-slot server's /metrics once a two-token request gets 200 instead of 503 (its slot was
     * freed), asking every 20 ms for up to 20 s.
     */
    static String metricsOnceTheSlotIsFree(OpenAiServer one) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        HttpResponse<String> after;
        do {
            Thread.sleep(20);
            after = post(one, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2}", null);
        } while (after.statusCode() == 503 && System.nanoTime() < deadline);
        assertEquals(200, after.statusCode(), "the slot was freed: " + after.body());
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + one.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
                .body();
    }

    @Test
    void aFullServerSays503AndAClientThatLeavesFreesItsSlot() throws Exception {
        try (OpenAiServer one = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withParallel(1).withQueue(0))) {
            String longStream = "{\"prompt\":\"In the beginning\",\"max_tokens\":400,\"stream\":true}";
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + one.port() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(longStream)).build();
            HttpResponse<InputStream> running = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            BufferedReader reader = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
            assertTrue(reader.readLine().startsWith("data: {"), "the stream has begun");

            HttpResponse<String> refused = post(one, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2}", null);
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("1", refused.headers().firstValue("Retry-After").orElse(null));

            running.body().close(); // the client goes away
            String metrics = metricsOnceTheSlotIsFree(one);
            assertTrue(metrics.contains("panamax_requests_total{route=\"/v1/completions\",status=\"503\"}"), metrics);
            assertTrue(metrics.contains("panamax_requests_total{route=\"/v1/completions\",status=\"499\"} 1"), metrics);
            assertTrue(metrics.contains("panamax_time_to_first_token_seconds_count"), metrics);
        }
    }

    /**
     * A non-streaming request whose client goes away: after a heartbeat the answer is committed and
     * spaces are written as it generates, so the disconnect is seen and the slot freed before the
     * answer would have ended; a client that stays gets the library's answer after the spaces.
     */
    @Test
    void aNonStreamingClientThatLeavesFreesItsSlotAndOneThatStaysGetsItsAnswer() throws Exception {
        OpenAiServer.Options o = OpenAiServer.Options.defaults().withPort(0).withParallel(1).withQueue(0).withHeartbeat(Duration.ofMillis(50));
        try (OpenAiServer one = OpenAiServer.start(model, o)) {
            String body = "{\"prompt\":\"In the beginning\",\"max_tokens\":450}";
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", one.port())) {
                socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                        + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("HTTP/1.1 200 OK", in.readLine(), "committed while generating");
            } // the client goes away
            String metrics = metricsOnceTheSlotIsFree(one);
            assertTrue(metrics.contains("panamax_requests_total{route=\"/v1/completions\",status=\"499\"} 1"), metrics);
            long generated = Long.parseLong(metrics.lines().filter(l -> l.startsWith("panamax_generated_tokens_total ")).findFirst().orElseThrow().split(" ")[1]);
            assertTrue(generated < 450 + 2, "the left request was cut short: " + generated + " tokens generated in all");

            HttpResponse<String> stayed = post(one, "/v1/completions", "{\"prompt\":\"In the beginning\",\"max_tokens\":60,\"temperature\":0}", null);
            assertEquals(200, stayed.statusCode());
            assertTrue(stayed.body().startsWith(" "), "spaces came first");
            String want = model.generate("In the beginning", GenerationOptions.defaults().withMaxTokens(60).withTemperature(0f), t -> {}).text();
            assertEquals(want, at(json(stayed), "choices", 0, "text"));
        }
    }

    @Test
    void closeLetsARunningStreamEndCleanly() throws Exception {
        OpenAiServer s = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withGrace(Duration.ofMillis(200)));
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"In the beginning\",\"max_tokens\":450,\"stream\":true}")).build();
        HttpResponse<InputStream> running = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        BufferedReader reader = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
        assertTrue(reader.readLine().startsWith("data: {"));
        Thread closer = Thread.ofVirtual().start(s::close);
        String line, last = null, finish = null;
        while ((line = reader.readLine()) != null) {
            if (line.startsWith("data: {")) {
                Object f = at(Json.parse(line.substring(6)), "choices", 0, "finish_reason");
                if (f != null) finish = f.toString();
            }
            if (!line.isEmpty()) last = line;
        }
        closer.join();
        assertEquals("stop", finish, "cancelled at shutdown: the stream still ends with a finish reason");
        assertEquals("data: [DONE]", last);
    }
}
