package dev.chorus.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ReplicaId;
import dev.chorus.events.Delivery;
import dev.chorus.events.EventHub;
import dev.chorus.events.Identity;
import dev.chorus.events.Registration;
import dev.chorus.events.Reload;
import dev.chorus.events.Sink;
import dev.chorus.server.auth.Tokens;
import io.javalin.http.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /ws/events}: one authenticated client's stream of the events it may see (broadcasts, its user's,
 * its tenant's), resumable on any replica with the last event id it received.
 *
 * <p>Protocol, server to client, one JSON text frame each: {@code hello} (where the client stands, to resume
 * from before any event arrives, and {@code reconnectJitterMs}, the spread over which to delay a reconnect),
 * {@code event} (with its {@code id}), {@code reload} (the client may have missed events and must reload its
 * state), {@code pong}. Client to server: only {@code {"type":"ping"}}; anything else closes the socket with
 * a code and a reason. The server also sends WebSocket pings, which every client library answers by itself.
 */
final class EventSocket {

    /** Close code for a client whose queue overflowed: it should reconnect with its last event id. */
    static final int TRY_AGAIN_LATER = 1013;

    private static final Logger LOG = LoggerFactory.getLogger(EventSocket.class);
    private static final long SEND_TIMEOUT_SECONDS = 10;
    /**
     * KiB of frames on their way to one client before its sink waits for it: a few dozen typical events,
     * and a bound on what one slow client makes this replica hold besides its queue.
     */
    private static final int WINDOW_KIB = 256;

    private final EventHub hub;
    private final Bearer bearer;
    private final ObjectMapper json;
    private final ReplicaId replica;
    private final SocketWatch watch;
    private final SocketOptions options;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final Frames frames = new Frames();

    EventSocket(
            EventHub hub,
            Bearer bearer,
            ObjectMapper json,
            ReplicaId replica,
            SocketWatch watch,
            SocketOptions options) {
        this.hub = hub;
        this.bearer = bearer;
        this.json = json;
        this.replica = replica;
        this.watch = watch;
        this.options = options;
    }

    /** Closes every socket with {@code code} and {@code reason} (drain: clients reconnect elsewhere). */
    void closeAll(int code, String reason) {
        for (Connection connection : List.copyOf(connections)) {
            connection.close(code, reason);
        }
    }

    /** Sockets open here. */
    int size() {
        return connections.size();
    }

    /** Refuses the upgrade (401) unless the client has a valid token; browsers send it as {@code access_token}. */
    void beforeUpgrade(Context ctx) {
        bearer.require(ctx, ctx.queryParam("access_token"));
        Problem foreign = Sockets.refusedOrigin(ctx.header("Origin"), ctx.header("Host"), options);
        if (foreign != null) {
            throw foreign;
        }
    }

    /**
     * The socket of an upgrade that {@link #beforeUpgrade} let through, or null after answering 401. Checked
     * again: a token that expired in between refuses the socket rather than opening an unauthenticated one.
     */
    @Nullable
    Object create(JettyServerUpgradeRequest request, JettyServerUpgradeResponse response) throws Exception {
        Tokens.Grant grant = Sockets.grant(bearer, request, response);
        if (grant == null) {
            return null;
        }
        Problem foreign = Sockets.refusedOrigin(request.getHeader("Origin"), request.getHeader("Host"), options);
        if (foreign != null) {
            response.sendError(403, foreign.getMessage());
            return null;
        }
        Sockets.negotiate(response, options);
        Sockets.forgetUpgradeAttributes(request);
        String lastEventId = Sockets.query(request, "lastEventId");
        if (lastEventId == null) {
            lastEventId = request.getHeader("Last-Event-ID");
        }
        return new Connection(grant, lastEventId);
    }

    /*
     * A broadcast reaches every sink as the same Delivery object (the hub's log holds one), so its frame is
     * encoded once and shared: a few slots, by identity, since sinks lag each other by a few events.
     */
    private final class Frames {
        private record Encoded(Delivery delivery, String frame) {}

        private final AtomicReferenceArray<@Nullable Encoded> slots = new AtomicReferenceArray<>(16);

        String of(Delivery delivery) {
            int slot = System.identityHashCode(delivery) & (slots.length() - 1);
            Encoded cached = slots.get(slot);
            if (cached != null && cached.delivery() == delivery) {
                return cached.frame();
            }
            String frame = encode(delivery);
            slots.set(slot, new Encoded(delivery, frame));
            return frame;
        }

        private String encode(Delivery delivery) {
            String data = delivery.event().text();
            StringBuilder frame = new StringBuilder(96 + data.length());
            try {
                frame.append("{\"type\":\"event\",\"id\":")
                        .append(json.writeValueAsString(delivery.id()))
                        .append(",\"event\":")
                        .append(json.writeValueAsString(delivery.event().type()))
                        .append(",\"data\":")
                        .append(data.isEmpty() ? "null" : data)
                        .append('}');
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            return frame.toString();
        }
    }

    /** One client socket and its registration with the hub. */
    // Public for Jetty's public method-handle lookup (see LiveSocket); created only here.
    public final class Connection extends LiveSocket implements Sink {

        private final @Nullable String lastEventId;
        private volatile @Nullable Session session;
        private volatile @Nullable Registration registration;
        /** KiB of frames sent and not yet written to the client's connection, as permits. */
        private final Semaphore window = new Semaphore(WINDOW_KIB);

        Connection(Tokens.Grant grant, @Nullable String lastEventId) {
            super(watch, grant);
            this.lastEventId = lastEventId;
        }

        @Override
        void opened(Session session) {
            this.session = session;
            connections.add(this);
            Identity identity = Identity.inTenant(principal.tenant(), principal.user());
            // Under the lock the sink's first delivery waits until the hello frame is out: the client learns
            // where it stands before anything else arrives.
            synchronized (this) {
                Registration registered = lastEventId == null || lastEventId.isBlank()
                        ? hub.register(identity, this)
                        : hub.resume(identity, this, lastEventId);
                registration = registered;
                if (!isOpen()) {
                    // Closed while registering: released() found no registration to close.
                    registered.close();
                    return;
                }
                Map<String, Object> hello = new LinkedHashMap<>();
                hello.put("type", "hello");
                hello.put("id", registered.position());
                hello.put("replica", replica.toString());
                hello.put("user", principal.user());
                hello.put("tenant", principal.tenant());
                hello.put("reconnectJitterMs", options.reconnectJitter().toMillis());
                // Not waited for: Jetty sends nothing until this open callback returns. Later sends queue
                // behind it, so it still goes first.
                sendAsync(write(hello));
            }
        }

        @Override
        void text(String message) {
            String type = null;
            try {
                JsonNode node = json.readTree(message);
                if (node != null && node.isObject() && node.path("type").isTextual()) {
                    type = node.path("type").textValue();
                }
            } catch (JsonProcessingException e) {
                // answered below
            }
            if ("ping".equals(type)) {
                sendAsync("{\"type\":\"pong\"}");
            } else {
                close(POLICY_VIOLATION, "only {\"type\":\"ping\"} may be sent on this socket");
            }
        }

        @Override
        void released() {
            connections.remove(this);
            Registration current = registration;
            if (current != null) {
                current.close();
            }
        }

        @Override
        public void onEvent(Delivery delivery) {
            sendText(frames.of(delivery));
        }

        @Override
        public void onReload(Reload reload) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", "reload");
            body.put("reason", reload.reason().name());
            body.put("detail", reload.detail());
            body.put("id", reload.id());
            sendText(write(body));
        }

        @Override
        public void onClosed(String reason) {
            close(TRY_AGAIN_LATER, reason + "; reconnect with lastEventId");
        }

        private String write(Map<String, Object> message) {
            try {
                return json.writeValueAsString(message);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        /*
         * Sends without waiting for each frame: up to WINDOW_KIB of frames may be on their way to the client, and
         * the sink's thread waits only when the window is full, that is when the client reads slower than
         * events come. Waiting for every frame's completion cost a park and an unpark per frame per socket,
         * most of a broadcast's cost at 18,000 sockets. A client that does not free a slot within the send
         * timeout is closed, as before. Runs on the sink's own thread, so a slow client only backs up its own
         * queue; frames of one socket leave in the order they were sent.
         */
        synchronized void sendText(String text) {
            Session current = session;
            if (current == null || !isOpen()) {
                return;
            }
            // A frame larger than the window takes all of it: it waits until nothing else is in flight.
            int kib = Math.clamp(text.length() / 1024, 1, WINDOW_KIB);
            try {
                if (!window.tryAcquire(kib, SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    close(TRY_AGAIN_LATER, "the client did not read for " + SEND_TIMEOUT_SECONDS + " s");
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            current.sendText(text, Callback.from(() -> window.release(kib), failure -> {
                window.release(kib);
                LOG.debug("Sending to {}'s socket failed: {}", principal.user(), failure.toString());
            }));
        }
    }
}
