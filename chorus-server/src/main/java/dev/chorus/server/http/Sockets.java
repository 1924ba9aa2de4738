package dev.chorus.server.http;

import java.util.List;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest;
import org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse;
import org.jspecify.annotations.Nullable;

/** What the server's socket kinds share at the upgrade: query parameters and the negotiated extensions. */
final class Sockets {

    private Sockets() {}

    /** The first value of query parameter {@code name}, or null. */
    static @Nullable String query(JettyServerUpgradeRequest request, String name) {
        List<String> values = request.getParameterMap().get(name);
        return values == null || values.isEmpty() ? null : values.getFirst();
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
