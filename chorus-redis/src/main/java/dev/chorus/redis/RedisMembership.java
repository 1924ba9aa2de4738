package dev.chorus.redis;

import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ReplicaId;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.HeartbeatMembership;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener.LeaveReason;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * HeartbeatMembership runs the heartbeat thread, the diffing and the listeners; this class holds the Redis rules.
 * Every beat one Lua script refreshes this replica's hash and sorted-set entry and reads every entry
 * (RedisMembershipScripts), then the hashes of members not seen before are read in one pipeline.
 *
 * - Liveness is judged by the Redis clock: an entry is live while its last beat > server now - expiry.
 * - A live member whose entry is now expired is EXPIRED. One whose entry vanished is LEFT if it is in the
 *   members-left set (a clean close writes it in the same script that deletes the entry). Otherwise the entry
 *   was lost with the server's data (a restart without persistence, a failover, a FLUSHALL): the member stays
 *   listed until its last beat seen expires, then it is EXPIRED; if it beats again before that, nothing is
 *   reported at all.
 * - Any beat removes entries expired for REMOVE_AFTER_EXPIRIES expiries, so every replica has seen them expire
 *   first and reports EXPIRED, not LEFT.
 * - Details (name, version, start, attributes) never change while a member lives, so a member's hash is read
 *   once, when it appears.
 */

/**
 * {@link Membership} in Redis: a hash and a sorted-set entry per live replica, kept alive by heartbeats and judged
 * by the Redis clock. Keys live under the connector's prefix, so deployments sharing one Redis never meet.
 *
 * <pre>{@code
 * Membership membership = RedisMembership.builder(connector, replicaId).build();
 * }</pre>
 *
 * <p>{@link #members()} and {@link #health()} read a snapshot refreshed every heartbeat and never block. Listeners
 * run on the {@code chorus-membership} virtual thread.
 */
public final class RedisMembership extends HeartbeatMembership {

    /** How often a replica proves it is alive and reads the others, unless set. */
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(2);
    /** How long without a heartbeat until a replica counts as expired, unless set. */
    public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(10);
    /** An entry expired this many expiries ago is removed by whichever replica beats next. */
    public static final int REMOVE_AFTER_EXPIRIES = 3;

    private static final Logger LOG = LoggerFactory.getLogger(RedisMembership.class);

    private final RedisConnector redis;
    private final ReplicaId self;
    private final String version;
    private final Map<String, String> attributes;
    private final RedisMembershipScripts scripts;

    // Confined to the heartbeat thread.
    private @Nullable Long startedMillis;

    private RedisMembership(Builder builder) {
        super(
                LOG,
                builder.self,
                builder.version,
                Map.copyOf(builder.attributes),
                builder.interval,
                builder.expiry,
                builder.expiry
                        .multipliedBy(2)
                        .plus(builder.redis.commandTimeout().multipliedBy(2)),
                "Redis",
                builder.redis.describe(),
                "under prefix '" + builder.redis.prefix() + "'");
        this.redis = builder.redis;
        this.self = builder.self;
        this.version = builder.version;
        this.attributes = Map.copyOf(builder.attributes);
        this.scripts = new RedisMembershipScripts(redis, builder.expiry);
    }

    /** A builder for {@code self}'s membership in the Redis of {@code connector}. */
    public static Builder builder(RedisConnector connector, ReplicaId self) {
        return new Builder(connector, self);
    }

    private RedisMembership start() {
        startHeartbeats();
        return this;
    }

    /** Leaves the cluster: deletes this replica's entry, so the others see it as LEFT, and stops. Idempotent. */
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
        return "RedisMembership{" + self.shortForm() + " prefix=" + redis.prefix() + " on " + redis.describe() + "}";
    }

    @Override
    protected void healthDetails(Map<String, Object> details) {
        details.put("backend", "redis");
        details.put("prefix", redis.prefix());
    }

    @Override
    protected Sighting sight() throws InterruptedException {
        StatefulRedisConnection<String, String> connection = redis.commands();
        RedisMembershipScripts.Beat beat = scripts.beat(connection.sync(), self(), startedMillis);
        noteOwnEntry(beat);
        Member me = new Member(
                self,
                version,
                Instant.ofEpochMilli(beat.startedMillis()),
                Instant.ofEpochMilli(beat.nowMillis()),
                attributes);
        List<UUID> newcomers = new ArrayList<>();
        for (Map.Entry<UUID, Long> entry : beat.beats().entrySet()) {
            if (isLive(beat, entry.getValue()) && !live().containsKey(entry.getKey())) {
                newcomers.add(entry.getKey());
            }
        }
        newcomers.remove(self.uuid());
        Map<UUID, Member> read =
                newcomers.isEmpty() ? Map.of() : scripts.read(connection.async(), newcomers, beat.beats());
        return new Sighting(me, live(beat, read), gone -> departure(beat, gone));
    }

    private void noteOwnEntry(RedisMembershipScripts.Beat beat) {
        if (startedMillis == null) {
            startedMillis = beat.startedMillis();
            LOG.info(
                    "Joined membership under prefix '{}' as {} (version {}) on {}",
                    redis.prefix(),
                    self.shortForm(),
                    version,
                    redis.describe());
        } else if (!beat.ownEntryWasThere()) {
            LOG.warn(
                    "The membership entry of {} under prefix '{}' was gone (entries silent for {} expiries of {}"
                            + " are removed, and Redis loses them on a restart without persistence or a failover:"
                            + " was this replica paused or cut off, or Redis restarted?); re-added it, the others"
                            + " may see it join again",
                    self.shortForm(),
                    redis.prefix(),
                    REMOVE_AFTER_EXPIRIES,
                    expiry());
        }
    }

    private boolean isLive(RedisMembershipScripts.Beat beat, long beatMillis) {
        return beatMillis > beat.nowMillis() - expiry().toMillis();
    }

    /** The others that are live now, with vanished entries kept until their last beat seen expires (see top). */
    private List<Member> live(RedisMembershipScripts.Beat beat, Map<UUID, Member> read) {
        List<Member> live = new ArrayList<>();
        for (Map.Entry<UUID, Long> entry : beat.beats().entrySet()) {
            UUID id = entry.getKey();
            if (id.equals(self.uuid()) || !isLive(beat, entry.getValue())) {
                continue;
            }
            Member known = live().get(id);
            if (known != null) {
                live.add(withBeat(known, entry.getValue()));
            } else if (read.containsKey(id)) {
                live.add(read.get(id));
            }
        }
        for (Member was : live().values()) {
            UUID id = was.id().uuid();
            boolean vanished = !beat.beats().containsKey(id) && !beat.left().contains(id);
            if (vanished
                    && !id.equals(self.uuid())
                    && isLive(beat, was.lastHeartbeat().toEpochMilli())) {
                // Lost with the server's data, not a goodbye: kept until its last beat expires.
                live.add(was);
            }
        }
        return live;
    }

    /** Gone with its entry and in the members-left set: LEFT; anything else: EXPIRED. */
    private static Departure departure(RedisMembershipScripts.Beat beat, Member gone) {
        UUID id = gone.id().uuid();
        boolean said = beat.left().contains(id) && !beat.beats().containsKey(id);
        Long lastBeat = beat.beats().get(id);
        Member last = lastBeat == null ? gone : withBeat(gone, lastBeat);
        return new Departure(last, said ? LeaveReason.LEFT : LeaveReason.EXPIRED);
    }

    private static Member withBeat(Member member, long beatMillis) {
        return new Member(
                member.id(), member.version(), member.started(), Instant.ofEpochMilli(beatMillis), member.attributes());
    }

    @Override
    protected void leave() {
        try {
            scripts.leave(redis.commands().sync(), self);
            LOG.info("Left membership under prefix '{}' as {}", redis.prefix(), self.shortForm());
        } catch (RuntimeException e) {
            LOG.warn(
                    "Could not delete the membership entry of {} under prefix '{}' on {}; the others will see it"
                            + " expire after {} instead: {}",
                    self.shortForm(),
                    redis.prefix(),
                    redis.describe(),
                    expiry(),
                    FailureLog.describe(e));
        }
    }

    /** Builds and starts a {@link RedisMembership}. */
    public static final class Builder {
        private final RedisConnector redis;
        private final ReplicaId self;
        private String version = ChorusVersion.current();
        private Map<String, String> attributes = Map.of();
        private Duration interval = DEFAULT_HEARTBEAT_INTERVAL;
        private Duration expiry = DEFAULT_EXPIRY;

        private Builder(RedisConnector redis, ReplicaId self) {
            this.redis = Objects.requireNonNull(redis, "connector");
            this.self = Objects.requireNonNull(self, "self");
        }

        /** The version this replica advertises; the running Chorus version unless set. */
        public Builder version(String version) {
            this.version = checkVersion(version);
            return this;
        }

        /** Small facts this replica advertises, for example its signing-key fingerprint; none unless set. */
        public Builder attributes(Map<String, String> attributes) {
            this.attributes = Map.copyOf(Objects.requireNonNull(attributes, "attributes"));
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
         * Joins the cluster and starts heartbeating. Returns after the first heartbeat, so {@link
         * RedisMembership#members()} is complete at once; if Redis is unreachable, after at most one expiry,
         * DEGRADED and retrying.
         *
         * @throws ChorusException if the expiry is not more than twice the heartbeat interval
         */
        public RedisMembership build() {
            checkExpiry(expiry, interval);
            return new RedisMembership(this).start();
        }
    }
}
