package dev.chorus.server.http;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An RFC 9457 problem ({@code application/problem+json}) the server answers with when a request cannot be
 * served: a status, a short title, a detail that says what was wrong and how to fix it, and optionally the
 * request field at fault. Thrown from handlers; the exception mapper writes it.
 */
public final class Problem extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The media type of a problem body. */
    public static final String CONTENT_TYPE = "application/problem+json";

    private final int status;
    private final String title;
    private final @Nullable String field;
    private final transient Map<String, Object> extra = new LinkedHashMap<>();
    private final transient Map<String, String> headers = new LinkedHashMap<>();

    private Problem(int status, String title, String detail, @Nullable String field) {
        super(detail, null, false, false);
        this.status = status;
        this.title = Objects.requireNonNull(title);
        this.field = field;
    }

    /** A problem with {@code status}, {@code title} and {@code detail}. */
    public static Problem of(int status, String title, String detail) {
        return new Problem(status, title, detail, null);
    }

    /** A 400 about one request field (a path parameter, header, query parameter or JSON pointer). */
    public static Problem badField(String field, String detail) {
        return new Problem(400, "Invalid request", detail, field);
    }

    /** {@code value} cut to 64 characters, for a detail that quotes what a client sent. */
    static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "…";
    }

    /** Adds a member to the problem body. */
    public Problem with(String name, Object value) {
        extra.put(name, value);
        return this;
    }

    /** Adds a response header (for example a {@code WWW-Authenticate} challenge). */
    public Problem header(String name, String value) {
        headers.put(name, value);
        return this;
    }

    /** The response headers to send with the problem. */
    public Map<String, String> headers() {
        return headers;
    }

    /** The HTTP status. */
    public int status() {
        return status;
    }

    /** The problem body as a map for the JSON writer. */
    public Map<String, Object> body(String instance) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        body.put("title", title);
        body.put("status", status);
        body.put("detail", getMessage());
        body.put("instance", instance);
        if (field != null) {
            body.put("field", field);
        }
        body.putAll(extra);
        return body;
    }
}
