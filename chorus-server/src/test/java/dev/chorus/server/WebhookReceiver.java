package dev.chorus.server;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A webhook receiver on 127.0.0.1 for tests: records every request with its headers and body, and answers
 * each with the next of a scripted list of statuses (the last repeats), with an optional {@code Location}.
 */
final class WebhookReceiver implements AutoCloseable {

    /** One request as it arrived. */
    record Delivery(String path, Map<String, List<String>> headers, byte[] body) {

        String header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().get(0))
                    .findFirst()
                    .orElse(null);
        }
    }

    private final HttpServer server;
    private final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedQueue<Integer> script;
    private final int last;

    private WebhookReceiver(String location, List<Integer> statuses) {
        this.script = new ConcurrentLinkedQueue<>(statuses);
        this.last = statuses.get(statuses.size() - 1);
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/", exchange -> {
            deliveries.add(new Delivery(
                    exchange.getRequestURI().getPath(),
                    Map.copyOf(exchange.getRequestHeaders()),
                    exchange.getRequestBody().readAllBytes()));
            Integer next = script.poll();
            int status = next == null ? last : next;
            if (location != null) {
                exchange.getResponseHeaders().add("Location", location);
            }
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        server.start();
    }

    /** A receiver answering {@code statuses} in turn, the last one from then on. */
    static WebhookReceiver answering(Integer... statuses) {
        return new WebhookReceiver(null, List.of(statuses));
    }

    /** A receiver answering every request with {@code status} and {@code Location: location}. */
    static WebhookReceiver redirecting(int status, String location) {
        return new WebhookReceiver(location, List.of(status));
    }

    /** {@code http://127.0.0.1:<port><path>}. */
    String url(String path) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    int port() {
        return server.getAddress().getPort();
    }

    List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
