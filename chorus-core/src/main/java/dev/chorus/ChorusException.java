package dev.chorus;

import org.jspecify.annotations.Nullable;

/** The one unchecked root of every exception Chorus throws; subclasses carry the context they name. */
public class ChorusException extends RuntimeException {

    /** An exception with a message that says what went wrong and, where possible, how to fix it. */
    public ChorusException(String message) {
        super(message);
    }

    /** An exception with a message and the underlying cause. */
    public ChorusException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
