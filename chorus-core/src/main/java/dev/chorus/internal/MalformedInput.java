package dev.chorus.internal;

import dev.chorus.ReplicaId;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * Counts messages of one feature that could not be read (a peer of another version, or forged bytes), and
 * logs the first at WARN and the rest at DEBUG.
 */
public final class MalformedInput {

    private final Logger log;
    private final String what;
    private final LongAdder count = new LongAdder();
    private final AtomicBoolean warned = new AtomicBoolean();

    /** Counts unreadable {@code what} (for example "dispatch request"), logging through {@code log}. */
    public MalformedInput(Logger log, String what) {
        this.log = log;
        this.what = what;
    }

    /** One unreadable message from {@code origin}, and why. */
    public void record(ReplicaId origin, Throwable why) {
        count.increment();
        if (warned.compareAndSet(false, true)) {
            log.warn(
                    "Dropped an unreadable {} from {}: {}. Further ones are counted and logged at DEBUG",
                    what,
                    origin,
                    FailureLog.describe(why));
        } else {
            log.debug("Dropped an unreadable {} from {}: {}", what, origin, FailureLog.describe(why));
        }
    }

    /** How many were dropped. */
    public long count() {
        return count.sum();
    }
}
