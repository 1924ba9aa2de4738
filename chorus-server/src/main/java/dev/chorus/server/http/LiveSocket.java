package dev.chorus.server.http;

import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Tokens;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.jspecify.annotations.Nullable;

/*
 * Jetty calls the listener methods on its own threads, one at a time per socket. Whatever ends the socket
 * (the client's close, ours, a dead peer, a reset, an error), released() runs exactly once, as soon as the
 * server has decided or heard of it: the socket's state leaves every map before Jetty finishes its close
 * handshake, which with a dead peer waits for Jetty's idle timeout.
 *
 * Public only because Jetty calls the listener methods through a public method-handle lookup; nothing
 * outside this package can make one (package-private constructor and hooks).
 */

/**
 * A server WebSocket as Jetty drives it, watched by {@link SocketWatch}: subclasses say what an open socket
 * does, what a text frame means and what to release when it ends, once, however it ends.
 */
public abstract class LiveSocket implements Session.Listener.AutoDemanding {

    /** Close code for a frame the protocol does not allow. */
    static final int POLICY_VIOLATION = 1008;
    /** Close code for a binary frame. */
    static final int UNSUPPORTED_DATA = 1003;
    /** Close code for a socket whose token expired: get a new token and reconnect (resume with the last id). */
    static final int TOKEN_EXPIRED = 4001;
    /** Close code for a socket over its user's cap. */
    static final int TOO_MANY_SOCKETS = 4029;

    private final SocketWatch watch;
    /** Who opened it: whose cap it counts against. */
    final Principal principal;
    /** When its token expires (epoch millis), or Long.MAX_VALUE. */
    private final long expiresMillis;

    private final AtomicBoolean released = new AtomicBoolean();
    private volatile @Nullable Session session;
    /** When a frame last arrived from the peer (System.nanoTime). */
    private volatile long heard;
    /** When the keep-alive last pinged the peer; keep-alive thread only. */
    private long pinged;

    LiveSocket(SocketWatch watch, Tokens.Grant grant) {
        this.watch = watch;
        this.principal = grant.principal();
        Instant expires = grant.expires();
        this.expiresMillis = expires == null ? Long.MAX_VALUE : expires.toEpochMilli();
    }

    /** The socket is open; {@code session} sends. */
    abstract void opened(Session session);

    /** A text frame from the peer. */
    abstract void text(String message);

    /** The socket ended, for whatever reason: forget it everywhere. Called once. */
    abstract void released();

    @Override
    public final void onWebSocketOpen(Session session) {
        this.session = session;
        heard = System.nanoTime();
        if (!watch.add(this, principal)) {
            released.set(true); // never counted: nothing to release
            session.close(
                    TOO_MANY_SOCKETS,
                    abbreviate("user '" + principal.user() + "' has " + watch.maxPerUser()
                            + " sockets open, the most allowed; close one first"),
                    Callback.NOOP);
            return;
        }
        opened(session);
    }

    @Override
    public final void onWebSocketText(String message) {
        heard = System.nanoTime();
        text(message);
    }

    @Override
    public final void onWebSocketBinary(ByteBuffer payload, Callback callback) {
        heard = System.nanoTime();
        callback.succeed();
        close(UNSUPPORTED_DATA, "binary frames are not accepted; send JSON text");
    }

    @Override
    public final void onWebSocketPong(ByteBuffer payload) {
        heard = System.nanoTime();
    }

    @Override
    public final void onWebSocketClose(int statusCode, @Nullable String reason) {
        release();
    }

    @Override
    public final void onWebSocketError(Throwable cause) {
        release();
    }

    /** Whether the socket is open and not released. */
    final boolean isOpen() {
        Session current = session;
        return current != null && current.isOpen() && !released.get();
    }

    /** Sends {@code text} without waiting; dropped once the socket is closed. */
    final void sendAsync(String text) {
        sendAsync(text, failure -> {});
    }

    /** Sends {@code text} without waiting; {@code failed} hears why it could not be sent. */
    final void sendAsync(String text, java.util.function.Consumer<Throwable> failed) {
        Session current = session;
        if (current != null && current.isOpen()) {
            current.sendText(text, Callback.from(() -> {}, failed));
        }
    }

    /** Releases the socket, then closes it with {@code code} and {@code reason} (shortened to fit a frame). */
    public void close(int code, String reason) {
        release();
        Session current = session;
        if (current != null) {
            current.close(code, abbreviate(reason), Callback.NOOP);
        }
    }

    private void release() {
        if (released.compareAndSet(false, true)) {
            watch.remove(this, principal);
            released();
        }
    }

    /**
     * Watch tick: closes a socket whose token expired, drops a peer that did not answer the last ping in time,
     * or pings a silent one.
     */
    final void watch(long now, long wallMillis, long intervalNanos, long timeoutNanos) {
        Session current = session;
        if (current == null) {
            return;
        }
        if (wallMillis >= expiresMillis) {
            close(TOKEN_EXPIRED, "token expired: get a new token and reconnect (with lastEventId to resume)");
            return;
        }
        long lastHeard = heard;
        boolean answered = pinged == 0 || lastHeard - pinged >= 0;
        if (!answered) {
            // Not pinged again while waiting: that would move the deadline and never find the peer dead.
            if (now - pinged >= timeoutNanos) {
                // A close frame would sit behind whatever the dead peer did not read: drop the connection.
                release();
                current.disconnect();
            }
            return;
        }
        if (now - lastHeard >= intervalNanos) {
            pinged = now;
            current.sendPing(ByteBuffer.allocate(0), Callback.NOOP);
        }
    }

    /** Close reasons must fit a control frame (123 bytes). */
    static String abbreviate(String reason) {
        byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
        return bytes.length <= 120 ? reason : new String(bytes, 0, 117, StandardCharsets.UTF_8) + "...";
    }
}
