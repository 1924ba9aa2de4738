package dev.chorus.server.http;

import dev.chorus.server.auth.Tokens;
import jakarta.servlet.http.HttpServletRequest;
import java.util.Collections;
import java.util.List;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse;
import org.jspecify.annotations.Nullable;

/** What the server's socket kinds share at the upgrade: query parameters, the Origin check, extensions. */
final class Sockets {

    private Sockets() {}

    /**
     * The verified token of an upgrade (header, or {@code access_token} where browsers cannot set headers),
     * or null after answering 401: checked again at the upgrade, since one that expired after the
     * before-upgrade check must not open an unauthenticated socket.
     */
    static Tokens.@Nullable Grant grant(
            Bearer bearer, JettyServerUpgradeRequest request, JettyServerUpgradeResponse response)
            throws java.io.IOException {
        try {
            return bearer.grant(request.getHeader("Authorization"), query(request, "access_token"));
        } catch (Problem e) {
            response.sendError(401, "not authenticated: " + e.getMessage());
            return null;
        }
    }

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

    /**
     * Drops the upgrade request's attributes that would otherwise live as long as the socket: Jetty keeps
     * the upgrade request for the socket's whole life (Session.getUpgradeRequest), and with it Javalin's
     * context of the upgrade (query-parameter maps, a copy of the token, lazies) and our principal. Nothing
     * reads them once the socket is created; dropping them measured 21.3 → 17.8 KiB of heap per idle socket.
     */
    static void forgetUpgradeAttributes(JettyServerUpgradeRequest request) {
        HttpServletRequest servlet = request.getHttpServletRequest();
        for (String name : Collections.list(servlet.getAttributeNames())) {
            if (name.startsWith("javalin") || name.startsWith("chorus.")) {
                servlet.removeAttribute(name);
            }
        }
    }
}
