package dev.chorus.bench.websocket;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;

/**
 * The raw baseline of {@code websocket-scale}: a Jetty 12 server with nothing but a WebSocket upgrade on
 * {@code /ws/events} (core {@link WebSocketUpgradeHandler}, no servlets, no HTTP session, no auth) that
 * sends one hello frame shaped like the Chorus one and then holds the socket. Run as its own process:
 * {@code RawJettyServer}; it prints {@code listening <port>} once it accepts connections on all interfaces.
 */
final class RawJettyServer {

    /** As long as a Chorus hello, so the frame itself costs both servers the same. */
    static final String HELLO = "{\"type\":\"hello\",\"id\":\"Af-oy4ylNAHB8QuJRv6MdgDtcMzt\","
            + "\"replica\":\"812815a2-5c70-429d-bea8-9419de834047\",\"user\":\"demo\",\"tenant\":\"demo\"}";

    private RawJettyServer() {}

    public static void main(String[] args) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("0.0.0.0");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(WebSocketUpgradeHandler.from(
                server, container -> container.addMapping("/ws/events", (request, response, callback) -> new Hello())));
        server.start();
        System.out.println("listening " + connector.getLocalPort());
        System.out.flush();
        server.join();
    }

    /** Sends the hello and nothing else; Jetty answers pings by itself. */
    // Public: Jetty calls the listener through method handles of a public lookup, and refuses other classes.
    public static final class Hello implements Session.Listener.AutoDemanding {
        @Override
        public void onWebSocketOpen(Session session) {
            session.sendText(HELLO, Callback.NOOP);
        }
    }
}
