package dev.chorus.backplane;

import dev.chorus.wire.Rejection;
import java.util.Map;

/**
 * Counters of one backplane since it started, for metrics and tests.
 *
 * @param published messages this replica published
 * @param received envelopes that arrived from the transport (including rejected ones)
 * @param delivered envelopes handed to subscribers (one per subscription)
 * @param rejected received bytes refused by the codec, per reason
 * @param duplicates envelopes dropped because their sequence was already seen
 * @param gaps times a subscription was told messages may have been missed
 * @param overflowDrops envelopes dropped because a subscription's queue was full
 * @param subscriberErrors exceptions thrown by subscribers
 * @param publishFailures publishes the transport could not send
 */
public record BackplaneStats(
        long published,
        long received,
        long delivered,
        Map<Rejection, Long> rejected,
        long duplicates,
        long gaps,
        long overflowDrops,
        long subscriberErrors,
        long publishFailures) {

    /** Copies the rejection counts. */
    public BackplaneStats {
        rejected = Map.copyOf(rejected);
    }

    /** The total of every rejection reason. */
    public long rejectedTotal() {
        return rejected.values().stream().mapToLong(Long::longValue).sum();
    }
}
