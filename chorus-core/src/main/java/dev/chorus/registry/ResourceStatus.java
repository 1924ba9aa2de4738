package dev.chorus.registry;

import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One definition's resource on one replica.
 *
 * @param id the definition id
 * @param version the definition version the resource was built from (or failed to build from)
 * @param built whether the resource exists on this replica
 * @param buildError why it could not be built, or null
 * @param counters the resource's counters ({@link ResourceStatusSource}), empty if it keeps none
 * @param lastError the resource's last error while working, or null
 */
public record ResourceStatus(
        String id,
        long version,
        boolean built,
        @Nullable String buildError,
        Map<String, Long> counters,
        @Nullable String lastError) {

    /** Copies the counters. */
    public ResourceStatus {
        counters = Map.copyOf(counters);
    }
}
