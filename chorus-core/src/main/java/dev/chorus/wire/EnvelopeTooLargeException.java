package dev.chorus.wire;

import dev.chorus.ChorusException;

/** An envelope would exceed the configured size limit; nothing was sent. */
public final class EnvelopeTooLargeException extends ChorusException {

    private final int size;
    private final int limit;

    /** An envelope on {@code topic} of {@code size} bytes would exceed {@code limit}. */
    public EnvelopeTooLargeException(String topic, int size, int limit) {
        super("Envelope on topic '" + topic + "' would be " + size + " bytes, over the limit of " + limit
                + " bytes: send a reference to the data instead, or raise CHORUS_MAX_ENVELOPE_BYTES on every replica");
        this.size = size;
        this.limit = limit;
    }

    /** The encoded size the envelope would have had. */
    public int size() {
        return size;
    }

    /** The configured limit. */
    public int limit() {
        return limit;
    }
}
