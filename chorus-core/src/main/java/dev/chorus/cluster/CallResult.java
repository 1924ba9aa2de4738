package dev.chorus.cluster;

import dev.chorus.ReplicaId;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * One replica's answer to a cluster call, or the fact that it gave none.
 *
 * @param replica the replica asked
 * @param answered whether it answered within the timeout
 * @param reply its answer's bytes; empty when it did not answer or failed
 * @param roundTrip from the call to the answer (the timeout when there was none)
 * @param error why there is no usable answer: no answer in time, no handler there, the handler failed
 */
public record CallResult(
        ReplicaId replica,
        boolean answered,
        byte[] reply,
        Duration roundTrip,
        @Nullable String error) {

    /** Whether the replica answered without an error. */
    public boolean ok() {
        return answered && error == null;
    }
}
