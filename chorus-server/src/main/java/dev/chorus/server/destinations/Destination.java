package dev.chorus.server.destinations;

import java.net.URI;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A webhook destination as stored: the tenant it belongs to, the URL events are POSTed to, which event
 * types it wants (empty: all of them), and the secret every replica signs its webhooks with (null only in a
 * definition stored before webhooks were signed, which no replica builds). The secret is shown once, in the
 * answer to the create; {@link #toString()} never shows it.
 */
public record Destination(
        String tenant,
        String url,
        List<String> events,
        @Nullable String secret) {

    /** The longest URL accepted. */
    public static final int MAX_URL_LENGTH = 2048;
    /** The most event types one destination may name. */
    public static final int MAX_EVENTS = 64;

    /** Copies the event types. */
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
     * The URL, checked: absolute {@code http} or {@code https} with a host and without user info.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public URI uri() {
        if (url.length() > MAX_URL_LENGTH) {
            throw new IllegalArgumentException(
                    "url is " + url.length() + " characters long; use one of at most " + MAX_URL_LENGTH);
        }
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("url '" + url + "' is not a URL: " + e.getMessage(), e);
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
            throw new IllegalArgumentException("url '" + url + "' must start with http:// or https://");
        }
        if (uri.getRawUserInfo() != null) {
            // user@host is how URL parsers are told apart (http://allowed@internal/); receivers verify the
            // signature instead of a password in the URL.
            throw new IllegalArgumentException("url '" + url + "' carries user info before '@'; remove it, and"
                    + " verify the webhook-signature header instead of a password in the URL");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException(
                    "url '" + url + "' has no host (or one with characters a host name" + " may not have)");
        }
        return uri;
    }

    @Override
    public String toString() {
        return "Destination[tenant=" + tenant + ", url=" + url + ", events=" + events + ", secret="
                + (secret == null ? "none" : "(hidden)") + "]";
    }
}
