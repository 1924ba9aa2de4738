package dev.chorus.server;

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

/** A small HTTP client of one replica's API, as a test drives it: real sockets, real JSON. */
final class Api {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final URI base;
    private String operatorClient = TestClients.OPERATOR;
    private String operatorSecret = TestClients.SECRET;
    private volatile String operatorToken;

    Api(URI base) {
        this.base = base;
    }

    URI base() {
        return base;
    }

    /** A response with its body as text and, when it is JSON, parsed. */
    record Response(int status, String body, HttpResponse<String> raw) {

        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + body, e);
            }
        }

        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }
    }

    Response send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> response =
                    HTTP.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body(), response);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(base.resolve(path));
    }

    /** The live members this replica's membership reports in {@code /health}. */
    /**
     * GETs {@code path} as an operator (the detailed health and the metrics are theirs): the test clients'
     * operator, or the client given to {@link #asOperator}.
     */
    Response operatorGet(String path) {
        if (operatorToken == null) {
            operatorToken = token(operatorClient, operatorSecret);
        }
        return get(path, operatorToken);
    }

    /** Uses client {@code id} with {@code secret} for {@link #operatorGet} (the demo client, say). */
    Api asOperator(String id, String secret) {
        operatorClient = id;
        operatorSecret = secret;
        operatorToken = null;
        return this;
    }

    int liveMembers() throws Exception {
        return operatorGet("/health")
                .json()
                .path("components")
                .path("membership")
                .path("details")
                .path("live")
                .asInt();
    }

    Response get(String path) {
        return send(request(path).GET());
    }

    Response get(String path, String token, String... headers) {
        HttpRequest.Builder request =
                request(path).header("Authorization", "Bearer " + token).GET();
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return send(request);
    }

    Response put(String path, String token, String json, String... headers) {
        HttpRequest.Builder request = request(path)
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return send(request);
    }

    Response delete(String path, String token, String... headers) {
        HttpRequest.Builder request =
                request(path).header("Authorization", "Bearer " + token).DELETE();
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return send(request);
    }

    /** {@code POST /oauth/token} with form credentials. */
    Response tokenResponse(String clientId, String secret) {
        String form =
                "grant_type=client_credentials&client_id=" + encode(clientId) + "&client_secret=" + encode(secret);
        return send(request("/oauth/token")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)));
    }

    /** A token, or an assertion error saying why there is none. */
    String token(String clientId, String secret) {
        Response response = tokenResponse(clientId, secret);
        if (response.status() != 200) {
            throw new AssertionError("no token: " + response.status() + " " + response.body());
        }
        return response.json().path("access_token").asText();
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
