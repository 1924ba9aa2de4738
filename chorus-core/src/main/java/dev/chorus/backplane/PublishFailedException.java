package dev.chorus.backplane;

import dev.chorus.ChorusException;
import org.jspecify.annotations.Nullable;

/** The transport could not send a message to the other replicas; local subscribers did receive it. */
public final class PublishFailedException extends ChorusException {

    /** A publish failed for {@code reason}. */
    public PublishFailedException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
