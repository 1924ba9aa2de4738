package dev.chorus.server;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A WebSocket client of {@code /ws/events} that keeps every frame it receives and how the socket closed. */
final class EventsClient implements WebSocket.Listener, AutoCloseable {

    private final List<JsonNode> frames = new CopyOnWriteArrayList<>();
    private final StringBuilder partial = new StringBuilder();
    private final CompletableFuture<int[]> closed = new CompletableFuture<>();
    private volatile String closeReason = "";
    private final WebSocket socket;

    private EventsClient(URI uri, String token, String lastEventId) throws Exception {
        String query = "?access_token=" + Api.encode(token)
                + (lastEventId == null ? "" : "&lastEventId=" + Api.encode(lastEventId));
        URI ws = URI.create("ws://" + uri.getHost() + ":" + uri.getPort() + "/ws/events" + query);
        this.socket = HttpClient.newHttpClient()
                .newWebSocketBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .buildAsync(ws, this)
                .get(10, TimeUnit.SECONDS);
    }

    /** Opens a socket without waiting for anything: the server may still refuse or close it. */
    static EventsClient open(URI base, String token) throws Exception {
        return new EventsClient(base, token, null);
    }

    /** Waits for the first frame, or fails saying how the socket closed. */
    JsonNode awaitFirst() {
        await().atMost(Duration.ofSeconds(20)).until(() -> !frames.isEmpty() || closed.isDone());
        if (frames.isEmpty()) {
            throw new AssertionError("closed before any frame: " + closed.join()[0] + " " + closeReason);
        }
        return frames.getFirst();
    }

    /** Connects to the replica at {@code base} with {@code token}, resuming after {@code lastEventId} if given. */
    static EventsClient connect(URI base, String token, String lastEventId) throws Exception {
        EventsClient client = new EventsClient(base, token, lastEventId);
        await().atMost(Duration.ofSeconds(20))
                .until(() -> client.closed.isDone()
                        || client.frames.stream()
                                .anyMatch(f -> f.path("type").asText().equals("hello")));
        if (client.closed.isDone()) {
            throw new AssertionError("the server closed the socket before hello: "
                    + client.closed.join()[0] + " " + client.closeReason);
        }
        return client;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        synchronized (partial) {
            partial.append(data);
            if (last) {
                try {
                    frames.add(Api.JSON.readTree(partial.toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                partial.setLength(0);
            }
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closeReason = reason;
        closed.complete(new int[] {statusCode});
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        closed.complete(new int[] {-1});
    }

    List<JsonNode> frames() {
        return new ArrayList<>(frames);
    }

    /** The events received, in order. */
    List<JsonNode> events() {
        return frames.stream()
                .filter(f -> f.path("type").asText().equals("event"))
                .toList();
    }

    /** The id the client would resume from: its last event's, or the hello's before any event. */
    String lastId() {
        String id = null;
        for (JsonNode frame : frames) {
            String type = frame.path("type").asText();
            if (type.equals("hello") || type.equals("event") || type.equals("reload")) {
                id = frame.path("id").asText();
            }
        }
        return id;
    }

    JsonNode awaitFrame(Predicate<JsonNode> matching) {
        await().atMost(Duration.ofSeconds(20)).until(() -> frames.stream().anyMatch(matching));
        return frames.stream().filter(matching).findFirst().orElseThrow();
    }

    void sendText(String text) {
        socket.sendText(text, true).join();
    }

    void sendBinary(byte[] bytes) {
        socket.sendBinary(java.nio.ByteBuffer.wrap(bytes), true).join();
    }

    /** Waits for the server to close the socket; its close code. */
    int awaitClose() throws Exception {
        return closed.get(20, TimeUnit.SECONDS)[0];
    }

    String closeReason() {
        return closeReason;
    }

    @Override
    public void close() {
        if (!socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
        }
        socket.abort();
    }
}
