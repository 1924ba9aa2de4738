package dev.chorus.server.destinations;

import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * A webhook destination as stored: the tenant it belongs to, the URL events are POSTed to, and which event
 * types it wants (empty: all of them).
 */
public record Destination(String tenant, String url, List<String> events) {

    public Destination {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(url, "url");
        events = List.copyOf(events);
    }

    /** Whether events of {@code type} go to this destination. */
    public boolean wants(String type) {
        return events.isEmpty() || events.contains(type);
    }

    /**
     * The URL, checked: absolute {@code http} or {@code https} with a host.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public URI uri() {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("url '" + url + "' is not a URL: " + e.getMessage(), e);
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
            throw new IllegalArgumentException("url '" + url + "' must start with http:// or https://");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("url '" + url + "' has no host");
        }
        return uri;
    }
}
