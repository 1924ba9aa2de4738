package dev.chorus.server.store;

import java.time.Instant;
import java.util.Objects;

/** One stored JSON document and its version; the version starts at 1 and grows by one on every write. */
public record Resource(ResourceKey key, long version, byte[] body, Instant updated) {

    public Resource {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(updated, "updated");
        if (version < 1) {
            throw new IllegalArgumentException("version must be at least 1, got " + version);
        }
    }

    /** The strong HTTP entity tag of this version, quoted. */
    public String etag() {
        return "\"" + version + "\"";
    }
}
