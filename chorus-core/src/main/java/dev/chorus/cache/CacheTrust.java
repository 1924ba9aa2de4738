package dev.chorus.cache;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.wire.Envelope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Invariants:
 *
 * - Reads use the cache while nanoTime() < trustedUntil. trustedUntil is the earliest of: healthyUntil (the
 *   backplane was last seen HEALTHY plus healthGrace) and heardUntil of every origin heard on the topic (its
 *   last message plus window). A replica membership lists that has not been heard (see Writers) makes it "now".
 * - window is the staleness bound minus half a heartbeat interval, the allowance for a heartbeat's own transit;
 *   with a bound of zero, about two heartbeats and the backplane HEALTHY at the last watch tick.
 * - Leaving distrust flushes the cache (except the first time trust is gained): invalidations may have been
 *   missed meanwhile, so values loaded before are suspect.
 * - Forgetting an origin that did not say goodbye (it expired, in membership or by its silence) flushes: its
 *   last invalidations may be lost. An origin first heard at a sequence past 1 flushes too: the backplane takes
 *   its first message as a baseline, so what it sent before could have been missed unseen.
 * - Every mutable field but the two volatile ones is read and written under trustLock; the flush callback is called
 *   under it.
 */

/** When a {@link ReplicatedCache} may answer from its near cache: writers heard, staleness bound, health. */
final class CacheTrust {

    // The cache's own category: operators configure and search the cache's log lines by it.
    private static final Logger LOG = LoggerFactory.getLogger(ReplicatedCache.class);

    private final String name;
    private final String topic;
    private final Backplane backplane;
    private final @Nullable Membership membership;
    private final StalenessPolicy policy;
    private final LongSupplier nanoClock;
    /** Empties the cache and says why: the cache's own flush, counted and logged there. */
    private final Consumer<String> flush;

    // Reads use the cache while nanoTime() < trustedUntil. Recomputed under trustLock.
    private volatile long trustedUntil;
    private volatile String distrustReason = "not started";
    private final Object trustLock = new Object();
    private final long built;
    private final long window;
    private final long healthGrace;
    private final long originExpiry;
    private long healthyUntil;
    private final Map<ReplicaId, Long> heardUntil = new HashMap<>();
    private final Map<ReplicaId, Long> lastHeard = new HashMap<>();
    /**
     * Replicas membership reported gone, newest last (trust lock). A message of theirs still in flight when
     * they left (a heartbeat queued before a crash) must not make them a peer again: this cache would wait
     * for heartbeats that never come and flush a second time when they expire. Only membership brings them
     * back. Bounded: a replica id is random per start, so an old one only ever matters for a moment.
     */
    private final Set<ReplicaId> departed = Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ReplicaId, Boolean> eldest) {
            return size() > 1_024;
        }
    });

    /** Replicas membership lists that could write; the cache distrusts itself while it hears not all of them. */
    private final Writers writers;

    private boolean distrustLogged;
    private boolean everTrusted;

    CacheTrust(
            String name,
            String topic,
            Backplane backplane,
            @Nullable Membership membership,
            boolean replication,
            StalenessPolicy policy,
            Duration stalenessBound,
            Duration heartbeatInterval,
            Duration watchPeriod,
            LongSupplier nanoClock,
            Consumer<String> flush) {
        this.name = name;
        this.topic = topic;
        this.backplane = backplane;
        this.membership = membership;
        this.policy = policy;
        this.nanoClock = nanoClock;
        this.flush = flush;
        this.writers = new Writers(replication ? membership : null, backplane.replica());

        long interval = heartbeatInterval.toNanos();
        long checkEvery = watchPeriod.toNanos();
        if (stalenessBound.isZero()) {
            // Bound 0: only a backplane seen HEALTHY at the last check, and peers heard within ~2 heartbeats.
            this.window = 2 * interval + interval / 2;
            this.healthGrace = 2 * checkEvery;
        } else {
            // Half an interval is kept back for the time a heartbeat spends in transit.
            this.window = stalenessBound.toNanos() - interval / 2;
            this.healthGrace = window;
        }
        this.originExpiry = Math.max(Duration.ofSeconds(30).toNanos(), 3 * stalenessBound.toNanos());

        long now = nanoClock.getAsLong();
        this.built = now;
        this.healthyUntil = now + healthGrace;
        // Replication off: no peers to hear, so the cache is always used.
        this.trustedUntil = replication ? now : Long.MAX_VALUE;
    }

    /**
     * Once the cache listens to its topic and to membership: trusts the cache for the health grace if the
     * backplane is HEALTHY (and no listed replica is unheard), otherwise not until it is.
     */
    void start() {
        writers.refresh();
        long now = built;
        synchronized (trustLock) {
            if (backplane.health().isHealthy()) {
                healthyUntil = now + healthGrace;
                recomputeTrust(now, null);
            } else {
                healthyUntil = now;
                distrustReason = "the " + backplane.backend() + " backplane is not HEALTHY yet: "
                        + backplane.health().reason();
            }
        }
    }

    boolean isTrusted() {
        return nanoClock.getAsLong() - trustedUntil < 0;
    }

    /** A sequenced message from another replica arrived: its origin is heard until the window passes. */
    void heard(Envelope envelope) {
        ReplicaId origin = envelope.origin();
        long now = nanoClock.getAsLong();
        synchronized (trustLock) {
            if (!heardUntil.containsKey(origin) && departed.contains(origin)) {
                if (!isMember(origin)) {
                    return; // sent before it left, delivered after
                }
                departed.remove(origin);
            }
            if (!heardUntil.containsKey(origin) && envelope.sequence() > 1) {
                // The backplane takes an origin's first message as its baseline, so anything that origin sent
                // between this subscription and now could have been lost unseen.
                flush.accept("first message heard from replica " + origin + " is #" + envelope.sequence()
                        + ", so invalidations it sent since this cache subscribed may have been missed");
            }
            heardUntil.put(origin, now + window);
            lastHeard.put(origin, now);
            recomputeTrust(now, null);
        }
    }

    /** Stops expecting heartbeats from {@code origin}; flushes unless it said goodbye. */
    private void forget(ReplicaId origin, @Nullable String whyFlush) {
        long now = nanoClock.getAsLong();
        synchronized (trustLock) {
            boolean known = heardUntil.remove(origin) != null;
            lastHeard.remove(origin);
            if (known && whyFlush != null) {
                flush.accept(whyFlush);
            }
            recomputeTrust(now, null);
        }
    }

    /**
     * A replica whose cache said goodbye writes no more (the server stops taking requests before it closes its
     * cache), so it stops counting as a writer even while membership still lists it; see {@link Writers}.
     */
    void saidGoodbye(ReplicaId origin) {
        synchronized (trustLock) {
            departed.add(origin);
        }
        forget(origin, null);
    }

    /** Periodic check of the backplane's health, of silent origins and of membership. */
    void watch() {
        try {
            writers.refresh();
            long now = nanoClock.getAsLong();
            Health health = backplane.health();
            List<ReplicaId> expired = new ArrayList<>();
            synchronized (trustLock) {
                if (health.isHealthy()) {
                    healthyUntil = now + healthGrace;
                }
                for (Map.Entry<ReplicaId, Long> e : lastHeard.entrySet()) {
                    if (now - e.getValue() > originExpiry && !isMember(e.getKey())) {
                        expired.add(e.getKey());
                    }
                }
                recomputeTrust(now, health.isHealthy() ? null : health.reason());
            }
            for (ReplicaId origin : expired) {
                forget(
                        origin,
                        "replica " + origin + " has been silent for "
                                + Duration.ofNanos(originExpiry).toSeconds()
                                + " s without saying goodbye, so its last invalidations may be lost");
            }
        } catch (RuntimeException e) {
            LOG.warn("Cache '{}' watch failed: {}", name, e.toString(), e);
        }
    }

    /**
     * Why the cache is not trusted, as of now: trust also lapses by the clock alone, between two watch ticks,
     * so the reason must be today's, not the last one recorded (a test read "not started" there).
     */
    String distrustReasonNow() {
        Health backplaneHealth = backplane.health();
        synchronized (trustLock) {
            recomputeTrust(nanoClock.getAsLong(), backplaneHealth.isHealthy() ? null : backplaneHealth.reason());
        }
        return distrustReason;
    }

    /** Replicas membership lists as live that the cache has not heard on its topic, and for how long. */
    Map<ReplicaId, Duration> unheard() {
        synchronized (trustLock) {
            return Collections.unmodifiableMap(writers.unheard(nanoClock.getAsLong()));
        }
    }

    /** Replicas the cache currently expects heartbeats from. */
    Set<ReplicaId> peers() {
        synchronized (trustLock) {
            return Set.copyOf(new HashSet<>(heardUntil.keySet()));
        }
    }

    /** Forgets replicas that left or expired, so their silence stops counting, and expects those that join. */
    MembershipListener membershipWatch() {
        return new MembershipWatch();
    }

    private boolean isMember(ReplicaId id) {
        if (membership == null) {
            return false;
        }
        try {
            return membership.member(id).isPresent();
        } catch (RuntimeException e) {
            return true;
        }
    }

    /**
     * Sets {@link #trustedUntil} to the earliest deadline of the backplane's health and of every origin's
     * heartbeats; leaving distrust flushes first, since invalidations may have been missed meanwhile.
     */
    private void recomputeTrust(long now, @Nullable String unhealthyReason) {
        long until = healthyUntil;
        @Nullable ReplicaId earliest = null;
        for (Map.Entry<ReplicaId, Long> e : heardUntil.entrySet()) {
            if (e.getValue() - until < 0) {
                until = e.getValue();
                earliest = e.getKey();
            }
        }
        // A replica that could write but is not heard may change what this cache holds unannounced.
        @Nullable ReplicaId found = writers.firstUnheard(heardUntil, lastHeard, departed, now);
        // Never heard; one heard before whose deadline passed already bounds `until` above.
        @Nullable ReplicaId unheard = found != null && !heardUntil.containsKey(found) ? found : null;
        boolean joining = false;
        if (unheard != null && until - now > 0) {
            until = now;
            // Only a replica just listed, before its first heartbeat: a join, not a fault, so the WARN waits
            // until that has lasted the bound (reads bypass the cache meanwhile all the same).
            joining = writers.unheardFor(unheard, now) < window;
        }
        boolean wasTrusted = now - trustedUntil < 0;
        boolean trustedNow = now - until < 0;
        // Built only when needed: this runs for every message heard.
        String reason = trustedNow
                ? ""
                : unheard != null && now - healthyUntil < 0
                        ? "replica " + unheard + " is live in membership but nothing has been heard from it on "
                                + topic + " for " + millis(writers.unheardFor(unheard, now)) + ": it shares the"
                                + " storage, and its changes cannot reach this cache over the " + backplane.backend()
                                + " backplane (does it run another CHORUS_BACKPLANE or CHORUS_CHANNEL?)"
                        : earliest == null
                                ? "the " + backplane.backend() + " backplane has not been HEALTHY for "
                                        + millis(now - healthyUntil + healthGrace)
                                        + (unhealthyReason == null ? "" : ": " + unhealthyReason)
                                : "nothing heard from replica " + earliest + " on " + topic + " for "
                                        + millis(now - lastHeard.getOrDefault(earliest, now));
        if (trustedNow && !wasTrusted) {
            if (everTrusted) {
                // Invalidations may have been missed while not trusted; values loaded before are suspect.
                flush.accept("invalidations flow again after " + distrustReason);
            }
            if (distrustLogged) {
                LOG.info("Cache '{}' is used again", name);
            }
            everTrusted = true;
            distrustLogged = false;
        } else if (!trustedNow && !distrustLogged && !joining) {
            distrustLogged = true;
            LOG.warn(
                    "Cache '{}' cannot prove it hears every invalidation ({}); {}",
                    name,
                    reason,
                    policy == StalenessPolicy.BYPASS
                            ? "reads go to the loader until it can"
                            : "serving possibly stale values (policy SERVE_STALE)");
        }
        if (!trustedNow) {
            distrustReason = reason;
        }
        trustedUntil = until;
    }

    private static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", Math.max(0, nanos) / 1e9);
    }

    /** Forgets replicas that left or expired, so their silence stops counting, and expects those that join. */
    private final class MembershipWatch implements MembershipListener {
        @Override
        public void onJoined(Member member) {
            writers.refresh();
            long now = nanoClock.getAsLong();
            synchronized (trustLock) {
                // Listed again (back after an expiry): a writer until heard, whatever it did before.
                departed.remove(member.id());
                recomputeTrust(now, null);
            }
        }

        @Override
        public void onLeft(Member member, LeaveReason reason) {
            writers.refresh();
            synchronized (trustLock) {
                departed.add(member.id());
            }
            forget(
                    member.id(),
                    // Its cache's goodbye removes it first; still known here means no goodbye was heard.
                    reason == LeaveReason.EXPIRED
                            ? "replica " + member.id() + " expired from membership, so its last invalidations"
                                    + " may be lost"
                            : "replica " + member.id() + " left membership without its cache saying goodbye,"
                                    + " so its last invalidations may be lost");
        }
    }
}
