package dev.chorus.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/** A WebSocket client of {@code /ws/agents} that only waits for the server's first frame. */
final class AgentProbe implements WebSocket.Listener, AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private final CompletableFuture<JsonNode> first = new CompletableFuture<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    private WebSocket socket;

    /** Connects; fails with the upgrade's status in the cause when the server refuses it. */
    static AgentProbe connect(URI uri) throws Exception {
        AgentProbe probe = new AgentProbe();
        probe.socket = HTTP.newWebSocketBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .buildAsync(uri, probe)
                .get(10, TimeUnit.SECONDS);
        return probe;
    }

    JsonNode first() throws Exception {
        return first.get(20, TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            try {
                first.complete(Api.JSON.readTree(partial.toString()));
            } catch (Exception e) {
                first.completeExceptionally(e);
            }
            partial.setLength(0);
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        first.completeExceptionally(new AssertionError("closed with " + statusCode + " " + reason));
        closed.complete(statusCode);
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        first.completeExceptionally(error);
        closed.complete(-1);
    }

    boolean isClosed() {
        return closed.isDone();
    }

    /** How the server closed the socket; -1 for an error. */
    int closeCode() {
        return closed.join();
    }

    @Override
    public void close() {
        if (socket != null) {
            socket.abort();
        }
    }
}
