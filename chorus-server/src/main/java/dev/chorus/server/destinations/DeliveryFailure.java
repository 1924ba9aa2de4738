package dev.chorus.server.destinations;

import org.jspecify.annotations.Nullable;

/**
 * The class of a failed webhook attempt. A sender's last error is {@code "<class>: <detail>"}; tenants see
 * the class only, operators the detail too, so a destination cannot be used to scan a network (which ports
 * answer, what they answer) through the low-level error text.
 */
public enum DeliveryFailure {
    /** The host is not allowed, or resolved to an address this replica may not reach. Not retried. */
    BLOCKED("blocked address", false),
    /** The host does not resolve. */
    DNS("dns", true),
    /** Nothing listens at the address. */
    REFUSED("connection refused", true),
    /** No route to the address. */
    UNREACHABLE("unreachable", true),
    /** Connecting or waiting for the answer took too long. */
    TIMEOUT("timeout", true),
    /** The TLS handshake failed: certificate, name or protocol. */
    TLS("tls", true),
    /** The connection broke. */
    NETWORK("network", true),
    /** The answer was not HTTP. */
    BAD_RESPONSE("bad response", true),
    /** A 3xx answer: redirects are not followed, since the next hop was never checked. Not retried. */
    REDIRECT("redirect", false),
    /** A 4xx answer other than 408 and 429: the receiver refused this event. Not retried. */
    HTTP_4XX("http 4xx", false),
    /** 408 or 429: the receiver asks for a later try. */
    HTTP_RETRY("http 4xx", true),
    /** A 5xx answer. */
    HTTP_5XX("http 5xx", true);

    private final String label;
    private final boolean retried;

    DeliveryFailure(String label, boolean retried) {
        this.label = label;
        this.retried = retried;
    }

    /** The class as tenants see it, for example {@code connection refused}. */
    public String label() {
        return label;
    }

    /** Whether the same event is tried again. */
    boolean retried() {
        return retried;
    }

    /** The class an HTTP status counts as, or null for 2xx. */
    static @Nullable DeliveryFailure ofStatus(int status) {
        if (status >= 200 && status < 300) {
            return null;
        }
        if (status >= 300 && status < 400) {
            return REDIRECT;
        }
        if (status == 408 || status == 429) {
            return HTTP_RETRY;
        }
        if (status >= 500 && status < 600) {
            return HTTP_5XX;
        }
        return status >= 400 && status < 500 ? HTTP_4XX : BAD_RESPONSE;
    }

    /** A last error as {@code "<class>: <detail>"}. */
    String describe(String detail) {
        return label + ": " + detail;
    }

    /**
     * What a tenant may see of a last error: its class, or {@code "error"} for text that does not start with
     * one (an older replica's), so no detail ever reaches a tenant by accident.
     */
    public static @Nullable String forTenant(@Nullable String lastError) {
        if (lastError == null) {
            return null;
        }
        for (DeliveryFailure failure : values()) {
            if (lastError.equals(failure.label) || lastError.startsWith(failure.label + ": ")) {
                return failure.label;
            }
        }
        return "error";
    }
}
