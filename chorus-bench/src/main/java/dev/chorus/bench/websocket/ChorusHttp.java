package dev.chorus.bench.websocket;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/** What the scenario asks a reference server over HTTP: readiness, a token, events, and a gauge. */
final class ChorusHttp {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private final URI base;
    private final @Nullable String bearer;

    ChorusHttp(int port) {
        this(URI.create("http://127.0.0.1:" + port), null);
    }

    private ChorusHttp(URI base, @Nullable String bearer) {
        this.base = base;
        this.bearer = bearer;
    }

    /** The same server, reading {@code /metrics} with {@code token} (it needs the operator role). */
    ChorusHttp authorized(String token) {
        return new ChorusHttp(base, token);
    }

    /** Polls {@code /health/ready} every 100 ms until it answers 200, the process dies, or {@code timeout}. */
    static void awaitReady(int port, Process process, Duration timeout) throws IOException {
        ChorusHttp http = new ChorusHttp(port);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() - deadline < 0 && process.isAlive()) {
            try {
                HttpResponse<Void> ready = HTTP.send(
                        HttpRequest.newBuilder(http.base.resolve("/health/ready"))
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                if (ready.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for port " + port, e);
            }
            process.onExit()
                    .completeOnTimeout(process, 100, TimeUnit.MILLISECONDS)
                    .join();
        }
        throw new IOException("no ready server on port " + port + " within " + timeout
                + (process.isAlive() ? "" : " (it exited with " + process.exitValue() + ")"));
    }

    /** A bearer token from the client-credentials grant. */
    String token(String clientId, String secret) throws IOException {
        String form = "grant_type=client_credentials&client_id=" + URLEncoder.encode(clientId, StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(secret, StandardCharsets.UTF_8);
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/oauth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .timeout(Duration.ofSeconds(10))
                .build());
        JsonNode token = JSON.readTree(response.body()).path("access_token");
        if (response.statusCode() != 200 || !token.isTextual()) {
            throw new IOException("POST /oauth/token for '" + clientId + "' answered " + response.statusCode());
        }
        return token.textValue();
    }

    /** {@code to} of an event for every socket of the server. */
    static final String EVERYONE = "everyone";
    /** {@code to} of an event for the sockets of the caller's tenant. */
    static final String TENANT = "tenant";

    /**
     * Sends {@code bench.tick} stamped with {@code epochMicros} to {@code to}; completes with the status code,
     * or exceptionally when no answer came within {@code timeout}.
     */
    CompletableFuture<Integer> post(String token, String to, long epochMicros, Duration timeout) {
        String body = "{\"type\":\"bench.tick\",\"to\":\"" + to + "\",\"data\":{\"t\":" + epochMicros + "}}";
        return HTTP.sendAsync(
                        HttpRequest.newBuilder(base.resolve("/api/events"))
                                .header("Authorization", "Bearer " + token)
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .timeout(timeout)
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .thenApply(HttpResponse::statusCode);
    }

    /**
     * The sum of the samples named {@code name} in {@code /metrics}, empty when there is none or the server
     * does not show its metrics to this caller.
     */
    OptionalDouble gauge(String name) throws IOException {
        HttpRequest.Builder request =
                HttpRequest.newBuilder(base.resolve("/metrics")).timeout(Duration.ofSeconds(10));
        if (bearer != null) {
            request.header("Authorization", "Bearer " + bearer);
        }
        HttpResponse<String> response = send(request.build());
        if (response.statusCode() != 200) {
            return OptionalDouble.empty();
        }
        double sum = 0;
        boolean found = false;
        for (String line : response.body().split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                String[] parts = line.strip().split("\\s+");
                try {
                    sum += Double.parseDouble(parts[parts.length - 1]);
                    found = true;
                } catch (NumberFormatException ignored) {
                    // a value this reader does not know
                }
            }
        }
        return found ? OptionalDouble.of(sum) : OptionalDouble.empty();
    }

    private static HttpResponse<String> send(HttpRequest request) throws IOException {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + request.uri(), e);
        }
    }
}
