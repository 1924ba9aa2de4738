package dev.chorus.server.agents;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.Backoff;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small agent: connects to {@code /ws/agents} on one of the given replicas (or a load balancer), applies
 * every config it is sent and acknowledges it, and reconnects with jittered backoff — to the next address —
 * whenever the socket closes (the replica drained, died or a newer connection superseded it).
 */
public final class AgentClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AgentClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String agentId;
    private final List<URI> servers;
    private final Supplier<String> token;
    private final Function<JsonNode, @Nullable String> apply;
    private final Backoff backoff;
    private final HttpClient http;
    private final ScheduledExecutorService timer;
    private final boolean ownsTimer;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger applied = new AtomicInteger();
    private final AtomicReference<@Nullable WebSocket> socket = new AtomicReference<>();
    private final AtomicReference<String> connectedTo = new AtomicReference<>("");
    private final Backoff.Attempts attempts;
    private volatile boolean closed;

    /**
     * An agent {@code agentId} of the tenant {@code token} belongs to.
     *
     * @param servers base URLs ({@code http://host:port}) tried in turn
     * @param token gives a valid bearer token, asked again on every connect
     * @param apply applies one config; returns null when applied, or why it was refused
     */
    public AgentClient(
            String agentId,
            List<URI> servers,
            Supplier<String> token,
            Function<JsonNode, @Nullable String> apply,
            Backoff backoff) {
        this(agentId, servers, token, apply, backoff, HttpClient.newHttpClient(), null);
    }

    /**
     * As above, sharing {@code http} and {@code timer} with other agents (a benchmark runs a thousand of
     * them); a null timer gives the agent its own.
     */
    public AgentClient(
            String agentId,
            List<URI> servers,
            Supplier<String> token,
            Function<JsonNode, @Nullable String> apply,
            Backoff backoff,
            HttpClient http,
            @Nullable ScheduledExecutorService timer) {
        if (servers.isEmpty()) {
            throw new IllegalArgumentException("an agent needs at least one server address");
        }
        this.agentId = Objects.requireNonNull(agentId, "agentId");
        this.servers = List.copyOf(servers);
        this.token = token;
        this.apply = apply;
        this.backoff = backoff;
        this.attempts = backoff.attempts();
        this.http = http;
        this.ownsTimer = timer == null;
        this.timer = timer != null
                ? timer
                : Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform()
                        .daemon()
                        .name("chorus-agent-reconnect")
                        .factory());
    }

    /** Connects in the background; {@link #isConnected()} says when it is. */
    public AgentClient start() {
        timer.execute(this::connect);
        return this;
    }

    /** Whether the server confirmed this agent's session on some replica. */
    public boolean isConnected() {
        return !connectedTo.get().isEmpty();
    }

    /** The base URL of the replica (or balancer) it is connected to, empty when not connected. */
    public String connectedTo() {
        return connectedTo.get();
    }

    /** How many times the session was confirmed (1 + reconnects). */
    public int connections() {
        return connections.get();
    }

    /** How many configs it applied and acknowledged. */
    public int applied() {
        return applied.get();
    }

    private void connect() {
        if (closed) {
            return;
        }
        URI base = servers.get(Math.floorMod(next.getAndIncrement(), servers.size()));
        URI uri = URI.create("ws://" + base.getHost() + ":" + base.getPort() + "/ws/agents?agentId="
                + URLEncoder.encode(agentId, StandardCharsets.UTF_8));
        String bearer;
        try {
            bearer = token.get();
        } catch (RuntimeException e) {
            retry("no token from " + base + ": " + e.getMessage());
            return;
        }
        http.newWebSocketBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .header("Authorization", "Bearer " + bearer)
                .buildAsync(uri, new Listener(base.toString()))
                .whenComplete((ws, error) -> {
                    if (error != null) {
                        retry("connect to " + base + " failed: " + error.getMessage());
                    } else if (closed) {
                        ws.abort();
                    } else {
                        socket.set(ws);
                    }
                });
    }

    private void retry(String why) {
        connectedTo.set("");
        socket.set(null);
        if (closed) {
            return;
        }
        Duration delay = attempts.next();
        LOG.debug("Agent {}: {}; reconnecting in {} ms", agentId, why, delay.toMillis());
        timer.schedule(this::connect, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Drops the connection without a close frame, as a crashed agent would. */
    public void abort() {
        WebSocket ws = socket.get();
        if (ws != null) {
            ws.abort();
        }
    }

    @Override
    public void close() {
        closed = true;
        WebSocket ws = socket.getAndSet(null);
        if (ws != null) {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "agent stopping").whenComplete((w, e) -> w.abort());
        }
        if (ownsTimer) {
            timer.shutdownNow();
        }
    }

    private final class Listener implements WebSocket.Listener {

        private final String base;
        private final StringBuilder partial = new StringBuilder();
        // The JDK socket allows one outstanding send: acknowledgements queue behind each other.
        private CompletableFuture<?> sends = CompletableFuture.completedFuture(null);

        Listener(String base) {
            this.base = base;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String frame = partial.toString();
                partial.setLength(0);
                handle(ws, frame);
            }
            ws.request(1);
            return null;
        }

        private void handle(WebSocket ws, String frame) {
            JsonNode node;
            try {
                node = JSON.readTree(frame);
            } catch (IOException e) {
                LOG.warn("Agent {} got a frame that is not JSON; ignored", agentId);
                return;
            }
            switch (node.path("type").asText()) {
                case "connected" -> {
                    connectedTo.set(base);
                    connections.incrementAndGet();
                    attempts.reset();
                    LOG.info("Agent {} connected through {}", agentId, base);
                }
                case "config" -> {
                    long id = node.path("id").asLong();
                    String refused;
                    try {
                        refused = apply.apply(node.path("config"));
                    } catch (RuntimeException e) {
                        refused = "applying failed: " + e;
                    }
                    if (refused == null) {
                        applied.incrementAndGet();
                        send(ws, "{\"type\":\"ack\",\"id\":" + id + "}");
                    } else {
                        send(ws, "{\"type\":\"nack\",\"id\":" + id + ",\"reason\":" + JSON.valueToTree(refused) + "}");
                    }
                }
                default -> {
                    // pong and future frame types need no answer
                }
            }
        }

        private synchronized void send(WebSocket ws, String frame) {
            sends = sends.handle((r, e) -> null).thenCompose(x -> ws.sendText(frame, true));
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            retry("closed by " + base + " with " + code + " " + reason);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            retry("socket to " + base + " failed: " + error);
        }
    }
}
