package dev.chorus.wire;

/** The outcome of decoding bytes: either an {@link Decoded envelope} or a {@link Rejected rejection}. */
public sealed interface DecodeResult {

    /** The bytes were a valid envelope for this cluster. */
    record Decoded(Envelope envelope) implements DecodeResult {}

    /**
     * The bytes were refused.
     *
     * @param reason the category, for counting
     * @param detail a sentence for the log; never contains payload bytes or secrets
     */
    record Rejected(Rejection reason, String detail) implements DecodeResult {}

    /** Whether this is a {@link Decoded}. */
    default boolean isDecoded() {
        return this instanceof Decoded;
    }
}
