package dev.chorus.server.http;

import java.util.List;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse;
import org.jspecify.annotations.Nullable;

/** What the server's socket kinds share at the upgrade: query parameters, the Origin check, extensions. */
final class Sockets {

    private Sockets() {}

    /** The first value of query parameter {@code name}, or null. */
    static @Nullable String query(JettyServerUpgradeRequest request, String name) {
        List<String> values = request.getParameterMap().get(name);
        return values == null || values.isEmpty() ? null : values.getFirst();
    }

    /**
     * The Problem refusing a browser page of a foreign origin (403), or null: a page of another site must not
     * open sockets with a token it got hold of. No Origin header: not a browser, allowed.
     */
    static @Nullable Problem refusedOrigin(@Nullable String origin, @Nullable String host, SocketOptions options) {
        if (origin == null || options.allows(origin, host)) {
            return null;
        }
        return Problem.of(
                403,
                "Forbidden",
                "sockets from pages of origin '" + origin + "' are not allowed; add it to "
                        + SocketOptions.ALLOWED_ORIGINS);
    }

    /**
     * Drops permessage-deflate unless it is switched on: it holds a deflater and an inflater (tens of KiB of
     * native memory) per socket, for frames that are mostly small JSON.
     */
    static void negotiate(JettyServerUpgradeResponse response, SocketOptions options) {
        if (!options.compression()) {
            response.setExtensions(List.of());
        }
    }
}
