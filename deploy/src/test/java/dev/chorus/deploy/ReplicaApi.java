package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** What the deployment tests ask a running replica over HTTP: a probe's status, a token, the cluster view. */
final class ReplicaApi {

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private ReplicaApi() {}

    /** The status of a GET of {@code path}, or -1 when the replica does not answer within {@code timeout}. */
    static int status(URI base, String path, Duration timeout) {
        try {
            return HTTP.send(
                            HttpRequest.newBuilder(base.resolve(path))
                                    .timeout(timeout)
                                    .GET()
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** An access token for client {@code id} by the client-credentials grant. */
    static String token(URI base, String id, String secret) {
        String form = "grant_type=client_credentials&client_id=" + URLEncoder.encode(id, StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(secret, StandardCharsets.UTF_8);
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/oauth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .build());
        assertThat(response.statusCode()).as("token: %s", response.body()).isEqualTo(200);
        return json(response.body()).path("access_token").asText();
    }

    /** {@code GET /api/cluster} with {@code token}. */
    static JsonNode cluster(URI base, String token) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/api/cluster"))
                .header("Authorization", "Bearer " + token)
                .build());
        assertThat(response.statusCode())
                .as("/api/cluster: %s", response.body())
                .isEqualTo(200);
        return json(response.body());
    }

    private static HttpResponse<String> send(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode json(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
