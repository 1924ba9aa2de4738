package dev.chorus.wire;

/** Why bytes were not accepted as an envelope; transports count rejections per reason. */
public enum Rejection {
    /** The bytes end before the envelope does. */
    TRUNCATED,
    /** The bytes are a Chorus envelope of a format version this replica does not speak. */
    UNKNOWN_VERSION,
    /** The HMAC does not match, is missing while a cluster secret is set, or is present while none is. */
    BAD_SIGNATURE,
    /** The bytes exceed the configured size limit. */
    TOO_LARGE,
    /** The envelope belongs to another cluster (channel) that happens to share the transport. */
    FOREIGN_CLUSTER,
    /**
     * A reference to an envelope stored elsewhere (a PostgreSQL spill row) that named nothing loadable: no such
     * row on this channel, the fetch failed or timed out, or the bounded fetch queue was full.
     */
    SPILL_UNAVAILABLE,
    /**
     * A signed envelope stamped outside the receiver's replay window (past or future), or from an epoch of its
     * origin that a newer epoch has replaced: a recording replayed, or a sender whose clock is wrong.
     */
    REPLAYED,
    /** Anything else: not a Chorus envelope at all, bad lengths, invalid UTF-8, unknown kind, trailing bytes. */
    MALFORMED
}
