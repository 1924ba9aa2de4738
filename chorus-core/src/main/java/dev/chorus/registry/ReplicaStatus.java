package dev.chorus.registry;

import dev.chorus.ReplicaId;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What one replica reported about a registry's resources, or that it did not answer.
 *
 * @param replica the replica
 * @param answered whether it answered in time
 * @param error why there is no answer (timeout, failure), or null
 * @param resources its resources' status; empty when it did not answer
 */
public record ReplicaStatus(
        ReplicaId replica, boolean answered, @Nullable String error, List<ResourceStatus> resources) {

    /** Copies the list. */
    public ReplicaStatus {
        resources = List.copyOf(resources);
    }
}
