package dev.chorus.postgres;

import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ReplicaId;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.HeartbeatMembership;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * HeartbeatMembership runs the heartbeat thread, the diffing and the listeners; this class holds the SQL rules.
 * Every beat refreshes this replica's row and reads the cluster's rows on one pooled connection.
 *
 * - Liveness is judged by the database clock: a row is live while heartbeat > now() - expiry.
 * - A live row that is now expired is EXPIRED; a live row that vanished is LEFT (a clean close deletes it),
 *   unless what we last saw of it had already expired by then: its row was removed while we were not
 *   looking, and it did not say goodbye.
 * - Any replica deletes rows expired for REMOVE_AFTER_EXPIRIES expiries, so every replica has seen the row
 *   expire first and reports EXPIRED, not LEFT.
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
public final class PostgresMembership extends HeartbeatMembership {

    /** The cluster this replica joins, unless set. */
    public static final String DEFAULT_CLUSTER = "chorus";
    /** How often a replica proves it is alive and reads the others, unless set. */
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(2);
    /** How long without a heartbeat until a replica counts as expired, unless set. */
    public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(10);
    /** A row expired this many expiries ago is deleted by whichever replica sees it. */
    public static final int REMOVE_AFTER_EXPIRIES = 3;

    private static final Logger LOG = LoggerFactory.getLogger(PostgresMembership.class);

    private final PostgresDatabase database;
    private final ReplicaId self;
    private final String cluster;
    private final String version;
    private final MembershipStatements statements;

    // Confined to the heartbeat thread.
    private boolean joined;

    private PostgresMembership(Builder builder) {
        super(
                LOG,
                builder.self,
                builder.version,
                Map.copyOf(builder.attributes),
                builder.interval,
                builder.expiry,
                builder.expiry.multipliedBy(2).plusSeconds(5),
                "PostgreSQL",
                builder.database.describe(),
                "in cluster '" + builder.cluster + "'");
        this.database = builder.database;
        this.self = builder.self;
        this.cluster = builder.cluster;
        this.version = builder.version;
        this.statements = new MembershipStatements(database.schema(), cluster, builder.expiry);
    }

    /** A builder for {@code self}'s membership in {@code database}. */
    public static Builder builder(PostgresDatabase database, ReplicaId self) {
        return new Builder(database, self);
    }

    private PostgresMembership start() {
        startHeartbeats();
        return this;
    }

    /** The cluster this replica is a member of. */
    public String cluster() {
        return cluster;
    }

    /** Leaves the cluster: deletes this replica's row, so the others see it as LEFT, and stops. Idempotent. */
    @Override
    public void close() {
        stopHeartbeats(true);
    }

    /** Stops heartbeating without leaving, as a killed process would; the others see it expire. For tests. */
    void abandon() {
        stopHeartbeats(false);
    }

    @Override
    public String toString() {
        return "PostgresMembership{" + self.shortForm() + " cluster=" + cluster + " on " + database.describe() + "}";
    }

    @Override
    protected void healthDetails(Map<String, Object> details) {
        details.put("backend", "postgres");
        details.put("cluster", cluster);
    }

    @Override
    protected Sighting sight() throws SQLException {
        try (Connection connection = database.connection()) {
            // A half-open connection must fail the beat, not hang it past the expiry.
            connection.setNetworkTimeout(Runnable::run, timeoutMillis());
            Member me = heartbeatOwnRow(connection);
            MembershipStatements.Rows rows = statements.read(connection);
            if (rows.removable()) {
                int removed = statements.removeLongExpired(connection);
                LOG.debug("Removed {} member rows expired for over {} expiries", removed, REMOVE_AFTER_EXPIRIES);
            }
            List<Member> live = new ArrayList<>();
            for (MembershipStatements.Row row : rows.rows()) {
                if (row.live()) {
                    live.add(row.member());
                }
            }
            return new Sighting(me, live, gone -> departure(rows, gone));
        }
    }

    /** A row still there but no longer live expired; a vanished one left, unless its last sighting had expired. */
    private Departure departure(MembershipStatements.Rows rows, Member gone) {
        MembershipStatements.Row row = rows.byId().get(gone.id().uuid());
        boolean expired = row != null || gone.lastHeartbeat().plus(expiry()).isBefore(rows.databaseNow());
        return new Departure(row != null ? row.member() : gone, expired ? LeaveReason.EXPIRED : LeaveReason.LEFT);
    }

    private Member heartbeatOwnRow(Connection connection) throws SQLException {
        if (joined) {
            Member me = statements.heartbeat(connection, self());
            if (me != null) {
                return me;
            }
            Member rejoined = statements.join(connection, self(), self().started());
            LOG.warn(
                    "The membership row of {} in cluster '{}' was gone (rows silent for {} expiries of {} are"
                            + " removed: was this replica paused or cut off?); re-inserted it, the others see it"
                            + " join again",
                    self.shortForm(),
                    cluster,
                    REMOVE_AFTER_EXPIRIES,
                    expiry());
            return rejoined;
        }
        Member me = statements.join(connection, self(), null);
        joined = true;
        LOG.info(
                "Joined membership of cluster '{}' as {} (version {}) on {}",
                cluster,
                self.shortForm(),
                version,
                database.describe());
        return me;
    }

    @Override
    protected void leave() {
        try (Connection connection = database.connection()) {
            connection.setNetworkTimeout(Runnable::run, timeoutMillis());
            statements.leave(connection, self);
            LOG.info("Left membership of cluster '{}' as {}", cluster, self.shortForm());
        } catch (SQLException | RuntimeException e) {
            LOG.warn(
                    "Could not delete the membership row of {} in cluster '{}' on {}; the others will see it expire"
                            + " after {} instead: {}",
                    self.shortForm(),
                    cluster,
                    database.describe(),
                    expiry(),
                    FailureLog.describe(e));
        }
    }

    private int timeoutMillis() {
        return (int) Math.min(Integer.MAX_VALUE, expiry().toMillis());
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
            this.version = checkVersion(version);
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
            this.interval = checkInterval(interval);
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
            checkExpiry(expiry, interval);
            return new PostgresMembership(this).start();
        }
    }
}
