package io.editstream.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.checkpoint.follow.FollowTarget;
import io.editstream.model.Generation;
import io.editstream.model.Generator;
import io.editstream.model.LanguageModel;
import io.editstream.model.SharedData;
import io.editstream.model.format.ModelLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The completions endpoint on stories260K at its base: OpenAI-style answers, and a clear error for every bad request. */
class CompletionServerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final FollowStatus STATUS = new FollowStatus(FollowStatus.State.FOLLOWING, "stories", "00".repeat(32), 0,
            new TreeMap<>(), 0, FollowTarget.latest(), null, null, 1);
    private static ServedModel served;
    private static CompletionServer server;

    @BeforeAll
    static void start() throws Exception {
        served = new ServedModel("stories", ModelLoader.load(SharedData.resolve("models/stories260K"), Device.cpu()));
        server = CompletionServer.start(0, served, () -> STATUS, 2);
    }

    @AfterAll
    static void stop() {
        server.close();
        served.close();
    }

    @Test
    void answersWithTheGreedyContinuationAndItsVersion() throws Exception {
        HttpResponse<String> response = post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 12, \"temperature\": 0.7}");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode answer = JSON.readTree(response.body());
        assertEquals("text_completion", answer.get("object").asText());
        assertEquals("stories", answer.get("model").asText());
        assertEquals(0, answer.get("model_version").asLong());
        JsonNode choice = answer.get("choices").get(0);
        assertEquals(12, answer.get("usage").get("completion_tokens").asInt());
        assertEquals("length", choice.get("finish_reason").asText());
        try (LanguageModel model = ModelLoader.load(SharedData.resolve("models/stories260K"), Device.cpu());
             NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            int promptTokens = answer.get("usage").get("prompt_tokens").asInt();
            Generation expected = new Generator(model).greedy(manager, "Once upon a time", promptTokens + 12 - 2);
            assertEquals(expected.text(), "Once upon a time" + choice.get("text").asText(), "the prompt's greedy continuation, prompt excluded");
        }
    }

    @Test
    void badRequestsGetAnOpenAiStyleError() throws Exception {
        assertError(post("/v1/completions", "{\"prompt\": "), 400, "not JSON");
        assertError(post("/v1/completions", "[1, 2]"), 400, "a JSON object");
        assertError(post("/v1/completions", "{\"max_tokens\": 5}"), 400, "'prompt' must be a string");
        assertError(post("/v1/completions", "{\"prompt\": [\"a\", \"b\"]}"), 400, "'prompt' must be a string");
        assertError(post("/v1/completions", "{\"prompt\": \"\"}"), 400, "the prompt is empty");
        assertError(post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": \"ten\"}"), 400, "'max_tokens' must be an integer");
        assertError(post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 0}"), 400, "'max_tokens' must be 1..");
        assertError(post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 100000}"), 400, "'max_tokens' must be 1..");
        assertError(post("/v1/completions", "{\"prompt\": \"" + "x".repeat(70_000) + "\"}"), 413, "over 65536 bytes");
        assertError(post("/v1/completions", "{\"prompt\": \"" + "Once upon a time ".repeat(200) + "\"}"), 400, "tokens (BOS included)");
        assertError(get("/v1/completions"), 405, "takes POST");
        assertError(get("/v2/nothing"), 404, "no such endpoint");
    }

    @Test
    void statusNamesTheServedVersion() throws Exception {
        HttpResponse<String> response = get("/v1/status");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode status = JSON.readTree(response.body());
        assertEquals("FOLLOWING", status.get("state").asText());
        assertEquals(0, status.get("version").asLong());
        assertEquals("latest", status.get("target").asText());
        assertTrue(status.get("last_refusal").isNull());
    }

    private static void assertError(HttpResponse<String> response, int code, String message) throws Exception {
        assertEquals(code, response.statusCode(), response.body());
        JsonNode error = JSON.readTree(response.body()).get("error");
        assertTrue(error.get("message").asText().contains(message), response.body());
        assertTrue(error.get("type").isTextual(), response.body());
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
