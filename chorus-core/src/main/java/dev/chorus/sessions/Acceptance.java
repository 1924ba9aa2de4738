package dev.chorus.sessions;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A session handler's answer to a dispatch: accepted (the client took it), or rejected with a reason.
 *
 * @param accepted whether the handler accepted the message
 * @param reason why it was rejected; null when accepted
 */
public record Acceptance(boolean accepted, @Nullable String reason) {

    private static final Acceptance ACCEPTED = new Acceptance(true, null);

    /** The handler took the message. */
    public static Acceptance accept() {
        return ACCEPTED;
    }

    /** The handler refused the message, for {@code reason} (shown to the dispatcher). */
    public static Acceptance reject(String reason) {
        return new Acceptance(false, Objects.requireNonNull(reason, "reason"));
    }
}
