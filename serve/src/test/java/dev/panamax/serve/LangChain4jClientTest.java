package dev.panamax.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real Java client against the real server: LangChain4j's OpenAI module (1.19.0) talking to
 * {@link OpenAiServer} on a loopback port — chat, its stream, a seeded sampled chat, embeddings, and
 * a wrong key — each answer checked against the library's own.
 */
class LangChain4jClientTest {
    static Panamax model;
    static OpenAiServer server;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        model = Panamax.loadDefault();
        server = OpenAiServer.start(model, OpenAiServer.Options.defaults().withPort(0).withApiKey("sesame").withModelId("kjv-llama"));
        base = "http://127.0.0.1:" + server.port() + "/v1";
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    /** The library's answer to one user message, as the server formats and stops it. */
    static String alone(String user, GenerationOptions o) {
        ChatTemplate template = ChatTemplate.detect(model.model().chatTemplate());
        String prompt = template.format(List.of(new ChatTemplate.Message("user", user)));
        if (!template.endOfTurn.isEmpty()) {
            List<String> stops = new ArrayList<>(o.stop());
            stops.add(template.endOfTurn);
            o = o.withStop(stops);
        }
        return model.generate(prompt, o, t -> {}).text();
    }

    @Test
    void chatAndItsStreamAreTheLibrarysAnswer() throws Exception {
        String want = alone("In the beginning", GenerationOptions.defaults().withMaxTokens(24).withTemperature(0f));
        assertFalse(want.isEmpty());
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(base).apiKey("sesame").modelName("kjv-llama").temperature(0.0).maxTokens(24).build();
        ChatResponse r = chat.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                .messages(dev.langchain4j.data.message.UserMessage.from("In the beginning")).build());
        assertEquals(want, r.aiMessage().text());
        assertEquals("kjv-llama", r.modelName());
        assertTrue(r.tokenUsage().outputTokenCount() > 0 && r.tokenUsage().outputTokenCount() <= 24, r.tokenUsage().toString());
        assertTrue(r.finishReason() == FinishReason.LENGTH || r.finishReason() == FinishReason.STOP, String.valueOf(r.finishReason()));

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(base).apiKey("sesame").modelName("kjv-llama")
                .temperature(0.0).maxTokens(24).build();
        StringBuilder parts = new StringBuilder();
        int[] partials = {0};
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat("In the beginning", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.append(partial);
                partials[0]++;
            }

            @Override
            public void onCompleteResponse(ChatResponse complete) {
                done.complete(complete);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse streamed = done.get(2, TimeUnit.MINUTES);
        assertEquals(want, parts.toString());
        assertEquals(want, streamed.aiMessage().text());
        assertTrue(partials[0] > 1, "the answer came in " + partials[0] + " piece(s)");
    }

    @Test
    void aSeededSampledChatIsReproducible() {
        String want = alone("And it came to pass", GenerationOptions.defaults().withMaxTokens(20).withTemperature(0.9f).withSeed(4242));
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(base).apiKey("sesame").modelName("kjv-llama")
                .temperature(0.9).seed(4242).maxTokens(20).build();
        assertEquals(want, chat.chat("And it came to pass"));
        assertEquals(want, chat.chat("And it came to pass"));
    }

    @Test
    void embeddingsAreTheLibrarysVectors() {
        OpenAiEmbeddingModel embeddings = OpenAiEmbeddingModel.builder().baseUrl(base).apiKey("sesame").modelName("kjv-llama").build();
        List<String> texts = List.of("In the beginning God created the heaven and the earth.", "Jesus wept.");
        List<Embedding> got = embeddings.embedAll(texts.stream().map(dev.langchain4j.data.segment.TextSegment::from).toList()).content();
        List<float[]> want = model.embed(texts);
        assertEquals(2, got.size());
        for (int i = 0; i < 2; i++) assertArrayEquals(want.get(i), got.get(i).vector(), "text " + i);
    }

    @Test
    void aWrongKeyIsRefused() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(base).apiKey("not-the-key").modelName("kjv-llama").maxTokens(4).maxRetries(0).build();
        RuntimeException e = assertThrows(RuntimeException.class, () -> chat.chat("Hello"));
        assertTrue(e.getClass().getSimpleName().contains("Authentication") || String.valueOf(e.getMessage()).contains("invalid_api_key"),
                e.getClass().getName() + ": " + e.getMessage());
    }
}
