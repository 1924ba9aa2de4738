package dev.chorus.membership;

import dev.chorus.ReplicaId;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One live replica as membership sees it.
 *
 * @param id the replica
 * @param version the Chorus version it runs, for compatibility checks
 * @param started when it joined
 * @param lastHeartbeat when it last proved it is alive (by the store's clock where there is one)
 * @param attributes small facts it advertises, for example the fingerprint of its signing key
 */
public record Member(
        ReplicaId id, String version, Instant started, Instant lastHeartbeat, Map<String, String> attributes) {

    /** Copies the attributes. */
    public Member {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(started, "started");
        Objects.requireNonNull(lastHeartbeat, "lastHeartbeat");
        attributes = Map.copyOf(attributes);
    }
}
