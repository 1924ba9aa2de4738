package dev.chorus.internal;

import dev.chorus.backplane.BackplaneStats;
import dev.chorus.wire.Rejection;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link BackplaneStats}. */
final class BackplaneCounters {

    final LongAdder published = new LongAdder();
    final LongAdder received = new LongAdder();
    final LongAdder delivered = new LongAdder();
    final LongAdder duplicates = new LongAdder();
    final LongAdder gaps = new LongAdder();
    final LongAdder overflowDrops = new LongAdder();
    final LongAdder subscriberErrors = new LongAdder();
    final LongAdder publishFailures = new LongAdder();
    private final Map<Rejection, LongAdder> rejected = new EnumMap<>(Rejection.class);

    BackplaneCounters() {
        for (Rejection reason : Rejection.values()) {
            rejected.put(reason, new LongAdder());
        }
    }

    void rejected(Rejection reason) {
        rejected.get(reason).increment();
    }

    BackplaneStats snapshot() {
        Map<Rejection, Long> rejections = new EnumMap<>(Rejection.class);
        rejected.forEach((reason, count) -> rejections.put(reason, count.sum()));
        return new BackplaneStats(
                published.sum(),
                received.sum(),
                delivered.sum(),
                rejections,
                duplicates.sum(),
                gaps.sum(),
                overflowDrops.sum(),
                subscriberErrors.sum(),
                publishFailures.sum());
    }
}
