package dev.chorus.verify;

import java.util.OptionalInt;
import org.jspecify.annotations.Nullable;

/**
 * The live replica count against the configured maximum ({@code CHORUS_MAX_INSTANCES}).
 *
 * @param live replicas live now, this one included
 * @param max the configured maximum, empty when none is set
 */
public record MaxInstances(int live, OptionalInt max) {

    /** Whether more replicas are live than allowed. */
    public boolean exceeded() {
        return max.isPresent() && live > max.getAsInt();
    }

    /** A warning for every response while exceeded, or null. */
    public @Nullable String warning() {
        return exceeded()
                ? live + " replicas are live but CHORUS_MAX_INSTANCES is " + max.getAsInt()
                        + ": scale down, or raise the limit if the deployment really needs more"
                : null;
    }
}
