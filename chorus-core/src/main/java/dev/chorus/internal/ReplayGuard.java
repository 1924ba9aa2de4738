package dev.chorus.internal;

import dev.chorus.wire.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Freshness of signed envelopes. The MAC covers the timestamp and the epoch, so an attacker can replay a
 * recorded envelope but not re-date it. Two rules:
 *  - the timestamp must lie within +-window of this replica's clock. The past bound makes a recording
 *    useless after the window; the future bound matters as much: an envelope stamped by a sender whose clock
 *    runs ahead would otherwise stay "fresh" for as long as that clock is ahead, plus the window.
 *  - per origin, once an epoch is heard on any topic, envelopes of older epochs are refused: a restarted
 *    origin (same id, new epoch) cannot have its previous life replayed, even inside the window and even on
 *    a topic whose SequenceTracker never heard the new epoch. An origin never heard before is accepted only
 *    if fresh, and its epoch becomes the one to beat.
 * Replays of the current epoch within the window are duplicates, which the per-topic SequenceTracker drops.
 * Thread-safe: transports may receive on several threads.
 */

/** Refuses signed envelopes stamped outside the replay window or from an origin's superseded epoch. */
final class ReplayGuard {

    private static final Logger LOG = LoggerFactory.getLogger(ReplayGuard.class);
    private static final int MAX_ORIGINS = 4096;

    private final Clock clock;
    private final Duration window;
    private final long windowMicros;
    private final Map<UUID, Long> epochs = lru();
    private final Set<UUID> logged = Collections.newSetFromMap(lru());

    ReplayGuard(Clock clock, Duration window) {
        this.clock = Objects.requireNonNull(clock, "clock");
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("replay window must be positive, was " + window);
        }
        this.window = window;
        this.windowMicros = window.toNanos() / 1_000;
    }

    Duration window() {
        return window;
    }

    /** Null when {@code envelope} may be delivered, otherwise why it is refused. */
    @Nullable
    String check(Envelope envelope) {
        Instant now = clock.instant();
        long nowMicros = Math.addExact(Math.multiplyExact(now.getEpochSecond(), 1_000_000L), now.getNano() / 1_000);
        long age = nowMicros - envelope.timestampMicros();
        if (age > windowMicros) {
            return "stamped " + seconds(age) + " ago, outside the replay window of " + window.toSeconds() + " s";
        }
        if (-age > windowMicros) {
            return "stamped " + seconds(-age) + " in the future, outside the replay window of " + window.toSeconds()
                    + " s (is this replica's or the sender's clock wrong? run NTP on every host)";
        }
        UUID origin = envelope.origin().uuid();
        synchronized (epochs) {
            Long current = epochs.get(origin);
            if (current != null && envelope.epoch() < current) {
                return "from epoch " + envelope.epoch() + " of an origin that has since started epoch " + current;
            }
            if (current == null || envelope.epoch() > current) {
                epochs.put(origin, envelope.epoch());
            }
        }
        return null;
    }

    /** Logs a refusal: WARN the first time per origin, DEBUG after. */
    void log(String backend, String channel, Envelope envelope, String why) {
        boolean first;
        synchronized (logged) {
            first = logged.add(envelope.origin().uuid());
        }
        if (first) {
            LOG.warn(
                    "{} backplane on channel '{}' refused an envelope from {} as a replay: {}. Further replays from"
                            + " this origin are logged at DEBUG and counted as REPLAYED",
                    backend,
                    channel,
                    envelope.origin(),
                    why);
        } else {
            LOG.debug("{} backplane refused a replay from {}: {}", backend, envelope.origin(), why);
        }
    }

    private static String seconds(long micros) {
        return micros >= 10_000_000
                ? micros / 1_000_000 + " s"
                : String.format(java.util.Locale.ROOT, "%.3f s", micros / 1e6);
    }

    private static <V> Map<UUID, V> lru() {
        return new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<UUID, V> eldest) {
                return size() > MAX_ORIGINS;
            }
        };
    }
}
