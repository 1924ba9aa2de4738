package dev.chorus.internal;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/*
 * Invariants:
 *
 * - One virtual thread, chorus-membership-heartbeat, does all the store I/O: every interval it calls sight(), which
 *   refreshes this replica's entry and reads the cluster's, then publishes the new member list and its differences
 *   to the previous one. Everything but the published snapshot and the failure text is confined to that thread,
 *   including the store's own state and live().
 * - The snapshot is replaced before any event of a beat is queued, so a listener reading members() sees at least
 *   the list its event came from.
 * - This replica is always listed and never reported as joined or left.
 * - Every member listed before and not now is reported once with the reason and last sighting the store gives;
 *   every member listed now and not before is reported joined once. Leaves are queued before joins.
 * - Listeners run one event at a time, in order, on chorus-membership; one that throws is counted and logged and
 *   the others still run. A listener removed after an event was queued does not see it.
 * - A failed beat keeps the last list published unchanged; health says why and how old the list is.
 * - close() stops the thread after any beat in progress, then leave() runs on it; abandon stops without leave().
 */

/**
 * A {@link Membership} kept by heartbeats to a shared store: the heartbeat thread, the published snapshot, the
 * joined/left diffing, listener dispatch, health and close. A store implements {@link #sight()} and {@link
 * #leave()}.
 */
public abstract class HeartbeatMembership implements Membership {

    /** The thread that heartbeats and reads the store. */
    public static final String HEARTBEAT_THREAD = "chorus-membership-heartbeat";
    /** The thread listeners run on. */
    public static final String LISTENER_THREAD = "chorus-membership";
    /** Members sorted the way {@link #members()} lists them. */
    public static final Comparator<Member> OLDEST_FIRST =
            Comparator.comparing(Member::started).thenComparing(m -> m.id().uuid());

    /** What one beat saw: this replica, the live members, and why a member no longer listed left. */
    public record Sighting(Member self, Collection<Member> live, Function<Member, Departure> departures) {}

    /** A member no longer listed: what was last seen of it and why it left. */
    public record Departure(Member last, LeaveReason reason) {}

    /** What members() and health() read: the last list read and when, by the local monotonic clock. */
    private record Snapshot(Member self, List<Member> members, long readAtNanos) {}

    /** One listener registration. A class, not a record: identity equality removes exactly this registration. */
    private static final class Registration {
        private final MembershipListener listener;

        Registration(MembershipListener listener) {
            this.listener = listener;
        }

        MembershipListener listener() {
            return listener;
        }
    }

    private final Logger log;
    private final ReplicaId self;
    private final Duration interval;
    private final Duration expiry;
    private final Duration stopTimeout;
    private final String store;
    private final String location;
    private final String scope;
    private final List<Registration> listeners = new CopyOnWriteArrayList<>();
    private final SerialExecutor notifier = new SerialExecutor(LISTENER_THREAD);
    private final FailureLog failures;
    private final AtomicLong listenerErrors = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final CountDownLatch firstBeat = new CountDownLatch(1);
    private final Thread heartbeat;
    private volatile boolean leaveOnStop;

    private volatile Snapshot snapshot;
    private volatile @Nullable String failure;

    // Confined to the heartbeat thread.
    private Map<UUID, Member> live = Map.of();

    /**
     * A membership of {@code self} that heartbeats every {@code interval}. {@code store} names the store in
     * messages ({@code "PostgreSQL"}), {@code location} where it is, {@code scope} the group joined ({@code "in
     * cluster 'x'"});
     * {@code stopTimeout} bounds how long close() waits for a beat in progress and the leave.
     */
    protected HeartbeatMembership(
            Logger log,
            ReplicaId self,
            String version,
            Map<String, String> attributes,
            Duration interval,
            Duration expiry,
            Duration stopTimeout,
            String store,
            String location,
            String scope) {
        this.log = log;
        this.self = self;
        this.interval = interval;
        this.expiry = expiry;
        this.stopTimeout = stopTimeout;
        this.store = store;
        this.location = location;
        this.scope = scope;
        this.failures = new FailureLog(log);
        Instant now = Instant.now();
        Member initial = new Member(self, version, now, now, attributes);
        this.snapshot = new Snapshot(initial, List.of(initial), System.nanoTime());
        this.heartbeat = Thread.ofVirtual().name(HEARTBEAT_THREAD).unstarted(this::heartbeats);
    }

    /**
     * Refreshes this replica's entry and reads the others. Runs on the heartbeat thread; a failure keeps the last
     * list published.
     */
    protected abstract Sighting sight() throws Exception;

    /** Removes this replica's entry, so the others see it as LEFT; logs rather than throws. On the heartbeat thread. */
    protected abstract void leave();

    /** Adds the store's facts (backend, cluster or prefix) to the health details. */
    protected abstract void healthDetails(Map<String, Object> details);

    /** A builder's check of the version a replica advertises. */
    public static String checkVersion(String version) {
        Objects.requireNonNull(version, "version");
        if (version.isBlank()) {
            throw new ChorusException("Membership version must not be blank (for example '1.4.0')");
        }
        return version;
    }

    /** A builder's check of the heartbeat interval. */
    public static Duration checkInterval(Duration interval) {
        Objects.requireNonNull(interval, "interval");
        if (interval.toMillis() < 1) {
            throw new ChorusException(
                    "Membership heartbeat interval must be at least 1ms, was " + interval + " (for example 2s)");
        }
        return interval;
    }

    /** A builder's check, at build time, that one late heartbeat does not expire a replica. */
    public static void checkExpiry(Duration expiry, Duration interval) {
        if (expiry.compareTo(interval.multipliedBy(2)) <= 0) {
            throw new ChorusException("Membership expiry (" + expiry
                    + ") must exceed twice the heartbeat interval ("
                    + interval + "), so one late heartbeat does not expire a replica (for example interval 2s,"
                    + " expiry 10s)");
        }
    }

    /** The members listed by the last beat, by id; for the heartbeat thread only. */
    protected final Map<UUID, Member> live() {
        return live;
    }

    /** How long without a heartbeat until a member counts as expired. */
    protected final Duration expiry() {
        return expiry;
    }

    /** Starts heartbeating and waits for the first beat, or at most one expiry if the store is unreachable. */
    protected final void startHeartbeats() {
        heartbeat.start();
        try {
            firstBeat.await(expiry.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops heartbeating, then leaves the cluster if {@code leave}; idempotent. */
    protected final void stopHeartbeats(boolean leave) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        leaveOnStop = leave;
        stop.countDown();
        if (Thread.currentThread() == heartbeat) {
            return;
        }
        try {
            // A beat in progress finishes first (bounded by the store's timeout), then the entry is removed.
            if (!heartbeat.join(stopTimeout)) {
                log.warn(
                        "Membership of {} {} did not stop in time; it leaves in the background",
                        self.shortForm(),
                        scope);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public final Member self() {
        return snapshot.self();
    }

    @Override
    public final List<Member> members() {
        return snapshot.members();
    }

    @Override
    public final Subscription onChange(MembershipListener listener) {
        Registration registration = new Registration(Objects.requireNonNull(listener, "listener"));
        listeners.add(registration);
        return () -> listeners.remove(registration);
    }

    @Override
    public final Health health() {
        if (closed.get()) {
            return Health.down("left the cluster");
        }
        Snapshot current = snapshot;
        long ageMillis =
                Duration.ofNanos(System.nanoTime() - current.readAtNanos()).toMillis();
        Map<String, Object> details = new LinkedHashMap<>();
        healthDetails(details);
        details.put("members", current.members().size());
        details.put("membersAgeMillis", ageMillis);
        details.put("listenerErrors", listenerErrors.get());
        String stale = "; the member list is " + ageMillis + " ms old";
        String reason = failure;
        if (reason != null) {
            return new Health(Health.Status.DEGRADED, reason + stale, details);
        }
        if (ageMillis > expiry.toMillis()) {
            return new Health(
                    Health.Status.DEGRADED,
                    "membership heartbeats have not completed for longer than " + expiry + stale,
                    details);
        }
        return Health.healthy(details);
    }

    private void heartbeats() {
        long next = System.nanoTime();
        try {
            while (true) {
                beat();
                firstBeat.countDown();
                next += interval.toNanos();
                long wait = next - System.nanoTime();
                if (wait < 0) {
                    // Fell behind (a slow store): beat again now, but do not try to catch up with a burst.
                    next = System.nanoTime();
                    wait = 0;
                }
                if (stop.await(wait, TimeUnit.NANOSECONDS)) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            firstBeat.countDown();
        }
        if (leaveOnStop) {
            leave();
        }
    }

    private void beat() {
        try {
            publish(sight());
            failure = null;
            failures.recovered(
                    "Membership heartbeats of " + self.shortForm() + " reach " + store + " again (" + location + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop.countDown();
        } catch (Exception e) {
            failure = "cannot heartbeat to " + store + " (" + location + "): " + FailureLog.describe(e);
            failures.failure(
                    "Membership heartbeat of " + self.shortForm() + " " + scope + " failed on " + location
                            + "; the others will see this replica expire after " + expiry
                            + ", and it keeps its last known member list",
                    e);
        }
    }

    private void publish(Sighting sighting) {
        Map<UUID, Member> nowLive = new LinkedHashMap<>();
        for (Member member : sighting.live()) {
            nowLive.put(member.id().uuid(), member);
        }
        nowLive.putIfAbsent(self.uuid(), sighting.self());
        List<Member> members = new ArrayList<>(nowLive.values());
        members.sort(OLDEST_FIRST);
        Map<UUID, Member> before = live;
        live = nowLive;
        // Publish first, so a listener reading members() sees the list its event came from.
        snapshot = new Snapshot(sighting.self(), List.copyOf(members), System.nanoTime());

        for (Member gone : before.values()) {
            UUID id = gone.id().uuid();
            if (id.equals(self.uuid()) || nowLive.containsKey(id)) {
                continue;
            }
            Departure departure = sighting.departures().apply(gone);
            log.debug("Member {} {} left: {}", gone.id().shortForm(), scope, departure.reason());
            notifyListeners(listener -> listener.onLeft(departure.last(), departure.reason()));
        }
        for (Member member : members) {
            UUID id = member.id().uuid();
            if (!id.equals(self.uuid()) && !before.containsKey(id)) {
                log.debug("Member {} {} joined", member.id().shortForm(), scope);
                notifyListeners(listener -> listener.onJoined(member));
            }
        }
    }

    private void notifyListeners(Consumer<MembershipListener> event) {
        for (Registration registration : listeners) {
            notifier.execute(() -> {
                if (!listeners.contains(registration)) {
                    return; // unsubscribed after the event was queued
                }
                try {
                    event.accept(registration.listener());
                } catch (RuntimeException e) {
                    listenerErrors.incrementAndGet();
                    log.warn("Membership listener {} threw; ignored", registration.listener(), e);
                }
            });
        }
    }
}
