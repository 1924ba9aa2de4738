package dev.chorus;

import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Identity of one replica process: a random UUID drawn at every start plus an optional human name.
 *
 * <p>The UUID changes on every restart on purpose: a restarted process has lost its in-memory state, so
 * peers must treat it as a new member rather than resume anything they believed about the old one. The
 * name (for example the Kubernetes pod name from {@code CHORUS_REPLICA_NAME}) is for people and logs only;
 * equality uses the UUID alone.
 */
public final class ReplicaId {

    /** Longest accepted name; longer names are almost always a misconfigured variable. */
    public static final int MAX_NAME_LENGTH = 128;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@-]*");

    private final UUID uuid;
    private final @Nullable String name;

    private ReplicaId(UUID uuid, @Nullable String name) {
        this.uuid = Objects.requireNonNull(uuid, "uuid");
        this.name = name;
    }

    /** A new identity with a random UUID and no name. */
    public static ReplicaId random() {
        return new ReplicaId(UUID.randomUUID(), null);
    }

    /** A new identity with a random UUID and the given name; a null or blank name means no name. */
    public static ReplicaId random(@Nullable String name) {
        return new ReplicaId(UUID.randomUUID(), normalise(name));
    }

    /** An identity received from elsewhere, for example decoded from an envelope or a membership row. */
    public static ReplicaId of(UUID uuid, @Nullable String name) {
        return new ReplicaId(uuid, normalise(name));
    }

    private static @Nullable String normalise(@Nullable String name) {
        if (name == null || name.isBlank()) {
            return null;
        }
        String trimmed = name.strip();
        if (trimmed.length() > MAX_NAME_LENGTH || !NAME.matcher(trimmed).matches()) {
            throw new ChorusException("Invalid replica name '" + trimmed + "': use up to " + MAX_NAME_LENGTH
                    + " letters, digits and . _ : @ -, starting with a letter or digit (for example 'api-7f9c-2')");
        }
        return trimmed;
    }

    /** The random per-start UUID that identifies this replica on the wire. */
    public UUID uuid() {
        return uuid;
    }

    /** The human name, or null when none was configured. */
    public @Nullable String name() {
        return name;
    }

    /** A short form for logs: the name and the first 8 hex digits of the UUID. */
    public String shortForm() {
        String head = uuid.toString().substring(0, 8);
        return name == null ? head : name + "/" + head;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ReplicaId that && uuid.equals(that.uuid);
    }

    @Override
    public int hashCode() {
        return uuid.hashCode();
    }

    @Override
    public String toString() {
        return name == null ? uuid.toString() : name + "/" + uuid;
    }
}
