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
import dev.chorus.server.auth.Principal;
import io.javalin.http.Context;
import io.javalin.websocket.WsConfig;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 * from before any event arrives), {@code event} (with its {@code id}), {@code reload} (the client may have
 * missed events and must reload its state), {@code pong}. Client to server: only {@code {"type":"ping"}};
 * anything else closes the socket with a code and a reason.
 */
final class EventSocket {

    /** Close code for a client whose queue overflowed: it should reconnect with its last event id. */
    static final int TRY_AGAIN_LATER = 1013;
    /** Close code for a frame the protocol does not allow. */
    static final int POLICY_VIOLATION = 1008;
    /** Close code for a binary frame. */
    static final int UNSUPPORTED_DATA = 1003;

    private static final Logger LOG = LoggerFactory.getLogger(EventSocket.class);
    private static final long SEND_TIMEOUT_SECONDS = 10;

    private final EventHub hub;
    private final Bearer bearer;
    private final ObjectMapper json;
    private final ReplicaId replica;
    private final Map<String, Connection> connections = new ConcurrentHashMap<>();

    EventSocket(EventHub hub, Bearer bearer, ObjectMapper json, ReplicaId replica) {
        this.hub = hub;
        this.bearer = bearer;
        this.json = json;
        this.replica = replica;
    }

    /** Closes every socket with {@code code} and {@code reason} (drain: clients reconnect elsewhere). */
    void closeAll(int code, String reason) {
        for (Connection connection : List.copyOf(connections.values())) {
            connection.close(code, abbreviate(reason));
        }
    }

    /** Refuses the upgrade (401) unless the client has a valid token; browsers send it as {@code access_token}. */
    void beforeUpgrade(Context ctx) {
        bearer.require(ctx, ctx.queryParam("access_token"));
    }

    void configure(WsConfig ws) {
        ws.onConnect(ctx -> {
            // Checked again: the upgrade request's attributes do not reach the socket's context. A token that
            // expired in between closes the socket rather than opening an unauthenticated stream.
            Principal principal;
            try {
                principal = bearer.verify(ctx.header("Authorization"), ctx.queryParam("access_token"));
            } catch (Problem e) {
                ctx.closeSession(POLICY_VIOLATION, abbreviate("not authenticated: " + e.getMessage()));
                return;
            }
            String lastEventId = ctx.queryParam("lastEventId");
            if (lastEventId == null) {
                lastEventId = ctx.header("Last-Event-ID");
            }
            Connection connection = new Connection(ctx.session, principal);
            connections.put(ctx.sessionId(), connection);
            connection.open(lastEventId);
        });
        ws.onMessage(ctx -> {
            Connection connection = connections.get(ctx.sessionId());
            if (connection == null) {
                return;
            }
            String message = ctx.message();
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
                connection.send(Map.of("type", "pong"));
            } else {
                connection.close(POLICY_VIOLATION, "only {\"type\":\"ping\"} may be sent on this socket");
            }
        });
        ws.onBinaryMessage(ctx -> {
            Connection connection = connections.get(ctx.sessionId());
            if (connection != null) {
                connection.close(UNSUPPORTED_DATA, "binary frames are not accepted; send JSON text");
            }
        });
        ws.onClose(ctx -> {
            Connection connection = connections.remove(ctx.sessionId());
            if (connection != null) {
                connection.registrationClosed();
            }
        });
        ws.onError(ctx -> {
            Connection connection = connections.remove(ctx.sessionId());
            if (connection != null) {
                connection.registrationClosed();
            }
        });
    }

    /** One client socket and its registration with the hub. */
    private final class Connection implements Sink {

        private final Session session;
        private final Principal principal;
        private volatile @Nullable Registration registration;

        Connection(Session session, Principal principal) {
            this.session = session;
            this.principal = principal;
        }

        void open(@Nullable String lastEventId) {
            Identity identity = Identity.of(principal.user(), principal.tenant());
            // Under the lock the sink's first delivery waits until the hello frame is out: the client learns
            // where it stands before anything else arrives.
            synchronized (this) {
                Registration registered = lastEventId == null || lastEventId.isBlank()
                        ? hub.register(identity, this)
                        : hub.resume(identity, this, lastEventId);
                registration = registered;
                Map<String, Object> hello = new LinkedHashMap<>();
                hello.put("type", "hello");
                hello.put("id", registered.position());
                hello.put("replica", replica.toString());
                hello.put("user", principal.user());
                hello.put("tenant", principal.tenant());
                // Not waited for: Jetty sends nothing until this connect callback returns. Later sends queue
                // behind it, so it still goes first.
                try {
                    session.sendText(json.writeValueAsString(hello), Callback.NOOP);
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        @Override
        public void onEvent(Delivery delivery) {
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
            sendText(frame.toString());
        }

        @Override
        public void onReload(Reload reload) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", "reload");
            body.put("reason", reload.reason().name());
            body.put("detail", reload.detail());
            body.put("id", reload.id());
            send(body);
        }

        @Override
        public void onClosed(String reason) {
            close(TRY_AGAIN_LATER, abbreviate(reason + "; reconnect with lastEventId"));
        }

        void send(Map<String, Object> message) {
            try {
                sendText(json.writeValueAsString(message));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Sends and waits: runs on the sink's own thread, so a slow client only backs up its own queue. */
        synchronized void sendText(String text) {
            if (!session.isOpen()) {
                return;
            }
            Callback.Completable sent = new Callback.Completable();
            session.sendText(text, sent);
            try {
                sent.get(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                LOG.debug(
                        "Sending to {}'s socket failed: {}",
                        principal.user(),
                        e.getCause().toString());
            } catch (TimeoutException e) {
                close(TRY_AGAIN_LATER, "the client did not read for " + SEND_TIMEOUT_SECONDS + " s");
            }
        }

        void close(int code, String reason) {
            registrationClosed();
            session.close(code, reason, Callback.NOOP);
        }

        void registrationClosed() {
            Registration current = registration;
            if (current != null) {
                current.close();
            }
        }
    }

    /** Close reasons must fit a control frame (123 bytes). */
    static String abbreviate(String reason) {
        byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
        return bytes.length <= 120 ? reason : new String(bytes, 0, 117, StandardCharsets.UTF_8) + "...";
    }
}
