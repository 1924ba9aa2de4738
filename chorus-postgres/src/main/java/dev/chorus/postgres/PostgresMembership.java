package dev.chorus.postgres;

import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.SerialExecutor;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
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
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One virtual thread, chorus-membership-heartbeat, does all the I/O: every interval it refreshes this
 * replica's row and reads the cluster's rows on one pooled connection, then publishes the new member list
 * and the differences to the previous one. Everything but the published snapshot is confined to that thread.
 *
 * - Liveness is judged by the database clock: a row is live while heartbeat > now() - expiry.
 * - A live row that is now expired is EXPIRED; a live row that vanished is LEFT (a clean close deletes it),
 *   unless what we last saw of it had already expired by then: its row was removed while we were not
 *   looking, and it did not say goodbye.
 * - Any replica deletes rows expired for REMOVE_AFTER_EXPIRIES expiries, so every replica has seen the row
 *   expire first and reports EXPIRED, not LEFT.
 * - While PostgreSQL is unreachable the last list stays published unchanged and health says how old it is.
 */

/**
 * {@link Membership} in PostgreSQL: one row per live replica in the {@code members} table, kept alive by
 * heartbeats and judged by the database clock.
 *
 * <pre>{@code
 * Membership membership = PostgresMembership.builder(database, replicaId).cluster("orders").build();
 * }</pre>
 *
 * <p>{@link #members()} and {@link #health()} read a snapshot refreshed every heartbeat and never block.
 * Listeners run on the {@code chorus-membership} virtual thread. Call {@link PostgresDatabase#ensureSchema()}
 * before building.
 */
public final class PostgresMembership implements Membership {

    /** The cluster this replica joins, unless set. */
    public static final String DEFAULT_CLUSTER = "chorus";
    /** How often a replica proves it is alive and reads the others, unless set. */
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(2);
    /** How long without a heartbeat until a replica counts as expired, unless set. */
    public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(10);
    /** A row expired this many expiries ago is deleted by whichever replica sees it. */
    public static final int REMOVE_AFTER_EXPIRIES = 3;

    static final String HEARTBEAT_THREAD = "chorus-membership-heartbeat";
    static final String LISTENER_THREAD = "chorus-membership";

    private static final Logger LOG = LoggerFactory.getLogger(PostgresMembership.class);

    private final PostgresDatabase database;
    private final ReplicaId self;
    private final String cluster;
    private final String version;
    private final Map<String, String> attributes;
    private final Duration interval;
    private final Duration expiry;
    private final MembershipStatements statements;
    private final List<Registration> listeners = new CopyOnWriteArrayList<>();
    private final SerialExecutor notifier = new SerialExecutor(LISTENER_THREAD);
    private final FailureLog failures = new FailureLog(LOG);
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
    private boolean joined;

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

    private PostgresMembership(Builder builder) {
        this.database = builder.database;
        this.self = builder.self;
        this.cluster = builder.cluster;
        this.version = builder.version;
        this.attributes = Map.copyOf(builder.attributes);
        this.interval = builder.interval;
        this.expiry = builder.expiry;
        this.statements = new MembershipStatements(database.schema(), cluster, expiry);
        Instant now = Instant.now();
        Member initial = new Member(self, version, now, now, attributes);
        this.snapshot = new Snapshot(initial, List.of(initial), System.nanoTime());
        this.heartbeat = Thread.ofVirtual().name(HEARTBEAT_THREAD).unstarted(this::heartbeats);
    }

    /** A builder for {@code self}'s membership in {@code database}. */
    public static Builder builder(PostgresDatabase database, ReplicaId self) {
        return new Builder(database, self);
    }

    private PostgresMembership start() {
        heartbeat.start();
        try {
            // So that members() is complete from the start; if PostgreSQL is down we go on DEGRADED.
            firstBeat.await(expiry.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return this;
    }

    /** The cluster this replica is a member of. */
    public String cluster() {
        return cluster;
    }

    @Override
    public Member self() {
        return snapshot.self();
    }

    @Override
    public List<Member> members() {
        return snapshot.members();
    }

    @Override
    public Subscription onChange(MembershipListener listener) {
        Registration registration = new Registration(Objects.requireNonNull(listener, "listener"));
        listeners.add(registration);
        return () -> listeners.remove(registration);
    }

    @Override
    public Health health() {
        if (closed.get()) {
            return Health.down("left the cluster");
        }
        Snapshot current = snapshot;
        long ageMillis =
                Duration.ofNanos(System.nanoTime() - current.readAtNanos()).toMillis();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("backend", "postgres");
        details.put("cluster", cluster);
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

    /** Leaves the cluster: deletes this replica's row, so the others see it as LEFT, and stops. Idempotent. */
    @Override
    public void close() {
        stop(true);
    }

    /** Stops heartbeating without leaving, as a killed process would; the others see it expire. For tests. */
    void abandon() {
        stop(false);
    }

    @Override
    public String toString() {
        return "PostgresMembership{" + self.shortForm() + " cluster=" + cluster + " on " + database.describe() + "}";
    }

    private void stop(boolean leave) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        leaveOnStop = leave;
        stop.countDown();
        if (Thread.currentThread() == heartbeat) {
            return;
        }
        try {
            // A beat in progress finishes first (bounded by the network timeout), then the row is deleted.
            if (!heartbeat.join(expiry.multipliedBy(2).plusSeconds(5))) {
                LOG.warn(
                        "Membership of {} in cluster '{}' did not stop in time; it leaves in the background",
                        self.shortForm(),
                        cluster);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
                    // Fell behind (a slow database): beat again now, but do not try to catch up with a burst.
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
        try (Connection connection = database.connection()) {
            // A half-open connection must fail the beat, not hang it past the expiry.
            connection.setNetworkTimeout(Runnable::run, (int) Math.min(Integer.MAX_VALUE, expiry.toMillis()));
            Member me = heartbeatOwnRow(connection);
            MembershipStatements.Rows rows = statements.read(connection);
            if (rows.removable()) {
                int removed = statements.removeLongExpired(connection);
                LOG.debug("Removed {} member rows expired for over {} expiries", removed, REMOVE_AFTER_EXPIRIES);
            }
            publish(me, rows);
            failure = null;
            failures.recovered("Membership heartbeats of " + self.shortForm() + " reach PostgreSQL again ("
                    + database.describe() + ")");
        } catch (SQLException | RuntimeException e) {
            failure = "cannot heartbeat to PostgreSQL (" + database.describe() + "): " + FailureLog.describe(e);
            failures.failure(
                    "Membership heartbeat of " + self.shortForm() + " in cluster '" + cluster + "' failed on "
                            + database.describe() + "; the others will see this replica expire after " + expiry
                            + ", and it keeps its last known member list",
                    e);
        }
    }

    private Member heartbeatOwnRow(Connection connection) throws SQLException {
        if (joined) {
            Member me = statements.heartbeat(connection, snapshot.self());
            if (me != null) {
                return me;
            }
            Member rejoined =
                    statements.join(connection, snapshot.self(), snapshot.self().started());
            LOG.warn(
                    "The membership row of {} in cluster '{}' was gone (rows silent for {} expiries of {} are"
                            + " removed: was this replica paused or cut off?); re-inserted it, the others see it"
                            + " join again",
                    self.shortForm(),
                    cluster,
                    REMOVE_AFTER_EXPIRIES,
                    expiry);
            return rejoined;
        }
        Member me = statements.join(connection, snapshot.self(), null);
        joined = true;
        LOG.info(
                "Joined membership of cluster '{}' as {} (version {}) on {}",
                cluster,
                self.shortForm(),
                version,
                database.describe());
        return me;
    }

    private void publish(Member me, MembershipStatements.Rows rows) {
        Map<UUID, Member> nowLive = new LinkedHashMap<>();
        for (MembershipStatements.Row row : rows.rows()) {
            if (row.live()) {
                nowLive.put(row.member().id().uuid(), row.member());
            }
        }
        nowLive.putIfAbsent(self.uuid(), me);
        List<Member> members = new ArrayList<>(nowLive.values());
        members.sort(MembershipStatements.OLDEST_FIRST);
        Map<UUID, Member> before = live;
        live = nowLive;
        // Publish first, so a listener reading members() sees the list its event came from.
        snapshot = new Snapshot(me, List.copyOf(members), System.nanoTime());

        for (Member gone : before.values()) {
            UUID id = gone.id().uuid();
            if (id.equals(self.uuid()) || nowLive.containsKey(id)) {
                continue;
            }
            MembershipStatements.Row row = rows.byId().get(id);
            boolean expired = row != null || gone.lastHeartbeat().plus(expiry).isBefore(rows.databaseNow());
            Member last = row != null ? row.member() : gone;
            LeaveReason reason = expired ? LeaveReason.EXPIRED : LeaveReason.LEFT;
            LOG.debug("Member {} of cluster '{}' left: {}", last.id().shortForm(), cluster, reason);
            notifyListeners(listener -> listener.onLeft(last, reason));
        }
        for (Member member : members) {
            UUID id = member.id().uuid();
            if (!id.equals(self.uuid()) && !before.containsKey(id)) {
                LOG.debug("Member {} of cluster '{}' joined", member.id().shortForm(), cluster);
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
                    LOG.warn("Membership listener {} threw; ignored", registration.listener(), e);
                }
            });
        }
    }

    private void leave() {
        try (Connection connection = database.connection()) {
            connection.setNetworkTimeout(Runnable::run, (int) Math.min(Integer.MAX_VALUE, expiry.toMillis()));
            statements.leave(connection, self);
            LOG.info("Left membership of cluster '{}' as {}", cluster, self.shortForm());
        } catch (SQLException | RuntimeException e) {
            LOG.warn(
                    "Could not delete the membership row of {} in cluster '{}' on {}; the others will see it expire"
                            + " after {} instead: {}",
                    self.shortForm(),
                    cluster,
                    database.describe(),
                    expiry,
                    FailureLog.describe(e));
        }
    }

    /** Builds and starts a {@link PostgresMembership}. */
    public static final class Builder {
        private final PostgresDatabase database;
        private final ReplicaId self;
        private String cluster = DEFAULT_CLUSTER;
        private String version = ChorusVersion.current();
        private Map<String, String> attributes = Map.of();
        private Duration interval = DEFAULT_HEARTBEAT_INTERVAL;
        private Duration expiry = DEFAULT_EXPIRY;

        private Builder(PostgresDatabase database, ReplicaId self) {
            this.database = Objects.requireNonNull(database, "database");
            this.self = Objects.requireNonNull(self, "self");
        }

        /** The cluster to join; replicas of one deployment share it. {@value #DEFAULT_CLUSTER} unless set. */
        public Builder cluster(String cluster) {
            Objects.requireNonNull(cluster, "cluster");
            if (cluster.isBlank() || cluster.length() > 128) {
                throw new ChorusException("Membership cluster must be 1 to 128 characters and not blank, was '"
                        + cluster + "' (for example 'chorus')");
            }
            this.cluster = cluster;
            return this;
        }

        /** The version this replica advertises; the running Chorus version unless set. */
        public Builder version(String version) {
            Objects.requireNonNull(version, "version");
            if (version.isBlank()) {
                throw new ChorusException("Membership version must not be blank (for example '1.4.0')");
            }
            this.version = version;
            return this;
        }

        /** Small facts this replica advertises, for example its signing-key fingerprint; none unless set. */
        public Builder attributes(Map<String, String> attributes) {
            Objects.requireNonNull(attributes, "attributes");
            for (Map.Entry<String, String> attribute : attributes.entrySet()) {
                if (attribute.getKey().indexOf('\0') >= 0
                        || attribute.getValue().indexOf('\0') >= 0) {
                    throw new ChorusException(
                            "Membership attribute '" + attribute.getKey().replace('\0', '?')
                                    + "' contains the NUL character, which PostgreSQL cannot store");
                }
            }
            this.attributes = Map.copyOf(attributes);
            return this;
        }

        /** How often to heartbeat and read the others; 2 s unless set. */
        public Builder heartbeatInterval(Duration interval) {
            Objects.requireNonNull(interval, "interval");
            if (interval.toMillis() < 1) {
                throw new ChorusException(
                        "Membership heartbeat interval must be at least 1ms, was " + interval + " (for example 2s)");
            }
            this.interval = interval;
            return this;
        }

        /** How long without a heartbeat until a replica counts as expired; 10 s unless set. */
        public Builder expiry(Duration expiry) {
            this.expiry = Objects.requireNonNull(expiry, "expiry");
            return this;
        }

        /**
         * Joins the cluster and starts heartbeating. Returns after the first heartbeat, so {@link #members()}
         * is complete at once; if PostgreSQL is unreachable, after at most one expiry, DEGRADED and retrying.
         *
         * @throws ChorusException if the expiry is not more than twice the heartbeat interval
         */
        public PostgresMembership build() {
            if (expiry.compareTo(interval.multipliedBy(2)) <= 0) {
                throw new ChorusException("Membership expiry (" + expiry
                        + ") must exceed twice the heartbeat interval ("
                        + interval + "), so one late heartbeat does not expire a replica (for example interval 2s,"
                        + " expiry 10s)");
            }
            return new PostgresMembership(this).start();
        }
    }
}
