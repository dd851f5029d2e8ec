package io.editstream.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.editstream.checkpoint.follow.FollowStatus;
import io.editstream.checkpoint.follow.FollowTarget;
import io.editstream.checkpoint.follow.Refusal;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of a {@link ServedModel}, on 127.0.0.1 only:
 * <ul>
 *   <li>{@code POST /v1/completions} with OpenAI's {@code prompt} (a string) and {@code max_tokens} (default 16):
 *       greedy decoding (sampling parameters are ignored); the answer names the model and, in {@code model_version},
 *       the version that produced all of it.</li>
 *   <li>{@code GET /v1/status}: the subscriber's status: version, latest committed, target, the last refusal.</li>
 *   <li>{@code POST /v1/admin/target} (when started with a way to move the subscriber): {@code {"pin": V}},
 *       {@code {"rollback_to": V}} or {@code {"follow": "latest"}}; answers the status once the subscriber moved, or
 *       409 with the reason it could not (the version it serves stays).</li>
 * </ul>
 * Further endpoints (metrics, health) are added with {@link #addEndpoint}.
 * Errors are OpenAI-style {@code {"error": {"message", "type"}}} with status 400, 404, 405, 413 or 500.
 */
public final class CompletionServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CompletionServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY = 64 * 1024;
    private static final int DEFAULT_MAX_TOKENS = 16;
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(60);

    private final HttpServer server;
    private final ExecutorService executor;
    private final ServedModel model;
    private final Supplier<FollowStatus> status;

    private CompletionServer(HttpServer server, ExecutorService executor, ServedModel model, Supplier<FollowStatus> status) {
        this.server = server;
        this.executor = executor;
        this.model = model;
        this.status = status;
    }

    /**
     * @param port    0 for any free port
     * @param threads requests answered at once (each holds the model's read lock while it generates)
     */
    public static CompletionServer start(int port, ServedModel model, Supplier<FollowStatus> status, int threads) throws IOException {
        return start(port, model, status, null, threads);
    }

    /**
     * @param retarget moves the subscriber (see {@code CheckpointFollower#moveTo}); null: no admin endpoint
     */
    public static CompletionServer start(int port, ServedModel model, Supplier<FollowStatus> status,
                                         Function<FollowTarget, CompletableFuture<FollowStatus>> retarget, int threads) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        AtomicInteger counter = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(threads, task -> {
            Thread thread = new Thread(task, "editstream-completions-" + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        CompletionServer completions = new CompletionServer(server, executor, model, status);
        server.setExecutor(executor);
        server.createContext("/v1/completions", exchange -> completions.answer(exchange, "POST", completions::completion));
        server.createContext("/v1/status", exchange -> completions.answer(exchange, "GET", completions::status));
        if (retarget != null) {
            server.createContext("/v1/admin/target", exchange -> completions.answer(exchange, "POST",
                    request -> completions.retarget(request, retarget)));
        }
        server.createContext("/", exchange -> completions.answer(exchange, null, ignored -> {
            throw new HttpError(404, "not_found", "no such endpoint: " + exchange.getRequestURI().getPath()
                    + " (POST /v1/completions, GET /v1/status)");
        }));
        server.start();
        log.info("serving {} completions on http://127.0.0.1:{}/v1/completions", model.modelId(), server.getAddress().getPort());
        return completions;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** Serves {@code handler} at {@code path} too (on the same threads). */
    public void addEndpoint(String path, HttpHandler handler) {
        server.createContext(path, handler);
    }

    /** An answer other than 200, with OpenAI's error type. */
    private static final class HttpError extends Exception {
        private static final long serialVersionUID = 1L;
        private final int status;
        private final String type;

        HttpError(int status, String type, String message) {
            super(message);
            this.status = status;
            this.type = type;
        }
    }

    @FunctionalInterface
    private interface Handler {
        JsonNode handle(HttpExchange exchange) throws IOException, HttpError;
    }

    private void answer(HttpExchange exchange, String method, Handler handler) throws IOException {
        try (exchange) {
            int code = 200;
            JsonNode body;
            try {
                if (method != null && !method.equals(exchange.getRequestMethod())) {
                    exchange.getResponseHeaders().add("Allow", method);
                    throw new HttpError(405, "invalid_request_error", exchange.getRequestURI().getPath() + " takes " + method);
                }
                body = handler.handle(exchange);
            } catch (HttpError e) {
                code = e.status;
                body = error(e.type, e.getMessage());
            } catch (RuntimeException e) {
                log.error("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
                code = 500;
                body = error("server_error", e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
            }
            byte[] bytes = JSON.writeValueAsBytes(body);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(code, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    private JsonNode completion(HttpExchange exchange) throws IOException, HttpError {
        JsonNode request = readJson(exchange);
        JsonNode prompt = request.get("prompt");
        if (prompt == null || !prompt.isTextual()) {
            throw new HttpError(400, "invalid_request_error", "'prompt' must be a string");
        }
        int maxTokens = DEFAULT_MAX_TOKENS;
        JsonNode max = request.get("max_tokens");
        if (max != null && !max.isNull()) {
            if (!max.canConvertToInt() || !max.isIntegralNumber()) {
                throw new HttpError(400, "invalid_request_error", "'max_tokens' must be an integer");
            }
            maxTokens = max.intValue();
        }
        if (maxTokens < 1 || maxTokens > model.contextLength()) {
            throw new HttpError(400, "invalid_request_error", "'max_tokens' must be 1.." + model.contextLength() + ", got " + maxTokens);
        }
        Completion completion;
        try {
            completion = model.complete(prompt.textValue(), maxTokens);
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "invalid_request_error", e.getMessage());
        }
        ObjectNode response = JSON.createObjectNode();
        response.put("id", "cmpl-" + UUID.randomUUID());
        response.put("object", "text_completion");
        response.put("created", System.currentTimeMillis() / 1000);
        response.put("model", completion.modelId());
        response.put("model_version", completion.version());
        ObjectNode choice = response.putArray("choices").addObject();
        choice.put("index", 0);
        choice.put("text", completion.text());
        choice.putNull("logprobs");
        choice.put("finish_reason", completion.finishReason());
        ObjectNode usage = response.putObject("usage");
        usage.put("prompt_tokens", completion.promptTokens());
        usage.put("completion_tokens", completion.completionTokens());
        usage.put("total_tokens", completion.promptTokens() + completion.completionTokens());
        return response;
    }

    private JsonNode retarget(HttpExchange exchange, Function<FollowTarget, CompletableFuture<FollowStatus>> retarget)
            throws IOException, HttpError {
        JsonNode request = readJson(exchange);
        FollowTarget target;
        try {
            if (request.size() != 1) {
                throw new IllegalArgumentException("give one of pin, rollback_to or follow");
            }
            if (request.has("pin")) {
                target = new FollowTarget.Pinned(version(request.get("pin")));
            } else if (request.has("rollback_to")) {
                target = new FollowTarget.RolledBack(version(request.get("rollback_to")));
            } else if (request.has("follow") && "latest".equals(request.get("follow").asText())) {
                target = FollowTarget.latest();
            } else {
                throw new IllegalArgumentException("give {\"pin\": V}, {\"rollback_to\": V} or {\"follow\": \"latest\"}");
            }
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "invalid_request_error", e.getMessage());
        }
        FollowStatus moved;
        try {
            moved = retarget.apply(target).get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new HttpError(409, "conflict", "cannot move to " + target + ": " + e.getCause().getMessage());
        } catch (TimeoutException e) {
            throw new HttpError(503, "server_error", "the subscriber did not move to " + target + " within " + ADMIN_TIMEOUT.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "server_error", "interrupted");
        }
        log.info("{}: moved to {} on an admin request; serving version {}", model.modelId(), target, model.version());
        return statusJson(moved, model.version());
    }

    private static long version(JsonNode value) {
        if (value == null || !value.isIntegralNumber() || value.longValue() < 0) {
            throw new IllegalArgumentException("a version is a whole number, 0 (the base) or more, got " + value);
        }
        return value.longValue();
    }

    private JsonNode status(HttpExchange exchange) {
        return statusJson(status.get(), model.version());
    }

    /** The subscriber's status as JSON; {@code served} is the version the model answers with now. */
    static ObjectNode statusJson(FollowStatus followed, long served) {
        ObjectNode json = JSON.createObjectNode();
        json.put("model", followed.modelId());
        json.put("state", followed.state().name());
        json.put("base_sha256", followed.baseSha256());
        json.put("version", served);
        json.put("latest_committed", followed.latestCommitted());
        json.put("target", followed.target().toString());
        json.put("swaps", followed.swaps());
        ObjectNode hashes = json.putObject("tensor_sha256");
        followed.tensorSha256().forEach(hashes::put);
        Refusal refusal = followed.lastRefusal();
        if (refusal == null) {
            json.putNull("last_refusal");
        } else {
            ObjectNode refused = json.putObject("last_refusal");
            refused.put("version", refusal.version());
            refused.put("reason", refusal.reason());
            refused.put("at", refusal.at().toString());
        }
        json.put("failure", followed.failure());
        return json;
    }

    private static JsonNode readJson(HttpExchange exchange) throws IOException, HttpError {
        byte[] bytes;
        try (InputStream in = exchange.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        }
        if (bytes.length > MAX_BODY) {
            throw new HttpError(413, "invalid_request_error", "the request body is over " + MAX_BODY + " bytes");
        }
        JsonNode json;
        try {
            json = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new HttpError(400, "invalid_request_error", "the body is not JSON: " + e.getMessage());
        }
        if (json == null || !json.isObject()) {
            throw new HttpError(400, "invalid_request_error", "the body must be a JSON object");
        }
        return json;
    }

    private static ObjectNode error(String type, String message) {
        ObjectNode json = JSON.createObjectNode();
        ObjectNode error = json.putObject("error");
        error.put("message", message);
        error.put("type", type);
        return json;
    }

    /** Stops taking requests, lets those running finish (up to a second), and stops the threads. */
    @Override
    public void close() {
        server.stop(1);
        executor.shutdownNow();
    }
}
