package dev.chorus.server.http;

import io.javalin.http.Context;

/**
 * The largest request body the server reads ({@link dev.chorus.server.ServerConfig#maxBodyBytes()}) and the 413
 * problem that names it, shared by the routes that read a body and by the mapping of Javalin's own 413.
 */
final class BodyLimit {

    private final long maxBytes;

    BodyLimit(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** The request body, or a 413 when the declared or the actual length is past the limit. */
    byte[] read(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxBytes) {
            throw tooLarge(declared);
        }
        byte[] body = ctx.bodyAsBytes();
        if (body.length > maxBytes) {
            throw tooLarge(body.length);
        }
        return body;
    }

    /** The 413 for a body of {@code size} bytes, or of unknown size when it is negative. */
    Problem tooLarge(long size) {
        return Problem.of(
                        413,
                        "Content too large",
                        (size < 0 ? "the body is too large" : "the body is " + size + " bytes")
                                + "; a request body may be at most " + maxBytes + " bytes (1 MiB)")
                .with("field", "body");
    }
}
