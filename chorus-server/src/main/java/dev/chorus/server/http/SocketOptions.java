package dev.chorus.server.http;

import dev.chorus.ConfigurationException;
import dev.chorus.server.ServerConfig;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * How the server keeps its WebSockets alive and frames them, from the {@code CHORUS_WS_*} settings.
 *
 * @param pingInterval a socket silent this long gets a ping; keep it below every idle timeout between the
 *     client and the server (load balancers, proxies)
 * @param pongTimeout a pinged socket that sends nothing back within this is dropped as dead; a dead peer is
 *     found within {@code pingInterval + pongTimeout}
 * @param compression whether permessage-deflate may be negotiated (a deflater and an inflater per socket)
 * @param reconnectJitter the spread, told to every client in its hello, over which clients should delay
 *     their reconnects after losing the socket, so a replica's clients do not all arrive at once elsewhere
 * @param maxPerUser the most sockets, of both kinds, one user of one tenant may hold open on a replica
 * @param allowedOrigins the browser origins (scheme://host[:port]) allowed to open sockets besides the
 *     server's own; {@code *} allows any. A request without Origin is not from a browser and is allowed
 */
public record SocketOptions(
        Duration pingInterval,
        Duration pongTimeout,
        boolean compression,
        Duration reconnectJitter,
        int maxPerUser,
        Set<String> allowedOrigins) {

    /** The ping interval setting. */
    public static final String PING_INTERVAL = "CHORUS_WS_PING_INTERVAL";
    /** The pong timeout setting. */
    public static final String PONG_TIMEOUT = "CHORUS_WS_PONG_TIMEOUT";
    /** The compression setting: {@code true} allows permessage-deflate. */
    public static final String COMPRESSION = "CHORUS_WS_COMPRESSION";
    /** The reconnect jitter setting. */
    public static final String RECONNECT_JITTER = "CHORUS_WS_RECONNECT_JITTER";
    /** The per-user socket cap setting. */
    public static final String MAX_PER_USER = "CHORUS_WS_MAX_PER_USER";
    /** The allowed browser origins setting: comma-separated origins, or {@code *}. */
    public static final String ALLOWED_ORIGINS = "CHORUS_ALLOWED_ORIGINS";
    /** Default per-user socket cap: a browser with many tabs, not a client that opens sockets in a loop. */
    public static final int DEFAULT_MAX_PER_USER = 100;

    /** Below the 30 s and 60 s idle timeouts common in front of servers (Jetty's own, ingress-nginx, ALB). */
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(25);
    /** Default pong timeout: a healthy client answers within a round trip, a busy one within seconds. */
    public static final Duration DEFAULT_PONG_TIMEOUT = Duration.ofSeconds(20);
    /** Default reconnect jitter. */
    public static final Duration DEFAULT_RECONNECT_JITTER = Duration.ofSeconds(5);

    private static final Duration SHORTEST = Duration.ofMillis(10);

    /** Reads and validates the settings; a bad value fails start-up naming the variable. */
    public static SocketOptions from(ServerConfig config) {
        Duration ping = atLeast(PING_INTERVAL, config.duration(PING_INTERVAL, DEFAULT_PING_INTERVAL));
        Duration pong = atLeast(PONG_TIMEOUT, config.duration(PONG_TIMEOUT, DEFAULT_PONG_TIMEOUT));
        Duration jitter = config.duration(RECONNECT_JITTER, DEFAULT_RECONNECT_JITTER);
        return new SocketOptions(
                ping,
                pong,
                config.flag(COMPRESSION, "permessage-deflate is off unless " + COMPRESSION + "=true"),
                jitter,
                config.count(MAX_PER_USER, DEFAULT_MAX_PER_USER, 1),
                origins(config.env().apply(ALLOWED_ORIGINS)));
    }

    /** Whether a browser at {@code origin} may open a socket on {@code host} (the request's Host header). */
    boolean allows(String origin, @Nullable String host) {
        if (allowedOrigins.contains("*") || allowedOrigins.contains(origin.toLowerCase(Locale.ROOT))) {
            return true;
        }
        // Same origin: a page served by this server (the dashboard) talks to it.
        int scheme = origin.indexOf("://");
        return host != null && scheme > 0 && origin.substring(scheme + 3).equalsIgnoreCase(host);
    }

    /** How often the socket watch looks at every socket: often enough for the shorter of its two times. */
    Duration watchTick() {
        long nanos = Math.min(pingInterval.toNanos(), pongTimeout.toNanos()) / 4;
        return Duration.ofNanos(Math.clamp(
                nanos, Duration.ofMillis(10).toNanos(), Duration.ofSeconds(1).toNanos()));
    }

    private static Set<String> origins(@Nullable String value) {
        if (value == null || value.isBlank()) {
            return Set.of();
        }
        Set<String> origins = new java.util.LinkedHashSet<>();
        for (String part : value.split(",")) {
            String origin = part.strip().toLowerCase(Locale.ROOT);
            if (origin.isEmpty()) {
                continue;
            }
            if (!origin.equals("*") && !origin.matches("https?://[^/\\s]+")) {
                throw new ConfigurationException(
                        ALLOWED_ORIGINS,
                        ALLOWED_ORIGINS + " has '" + part.strip() + "', which is not an origin such as"
                                + " https://app.example.org (scheme, host and port only, no path) or *");
            }
            origins.add(origin);
        }
        return Set.copyOf(origins);
    }

    /** The longest a dead peer goes unnoticed. */
    public Duration deadPeerBound() {
        return pingInterval.plus(pongTimeout);
    }

    /**
     * Jetty's own idle timeout, a backstop only: the pings keep a healthy socket busy, and Jetty counts the
     * server's writes as activity, so it never closes one that is pinged.
     */
    Duration jettyIdleTimeout() {
        return pingInterval.multipliedBy(2).plus(pongTimeout);
    }

    private static Duration atLeast(String variable, Duration value) {
        if (value.compareTo(SHORTEST) < 0) {
            throw new ConfigurationException(
                    variable,
                    variable + "=" + value.toMillis() + "ms is too short; use at least 10ms (for example " + variable
                            + "=25s)");
        }
        return value;
    }
}
