package dev.chorus.redis;

import dev.chorus.ChorusException;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Why a lease take waits for replicas (docs/redis.md, "Leases across a failover"):
 *
 * Redis replicates asynchronously. A take that reached only the primary is lost if a replica is promoted before
 * the write arrives there: the new primary does not know the key is held and hands it out again. WAIT after the
 * take, on the same connection, blocks until that many replicas have processed every write sent on it so far,
 * so a token is handed out only once it would survive the loss of the primary (unless every replica that has it
 * is lost as well, or Sentinel promotes one that does not: WAIT does not make Redis strongly consistent).
 *
 * - required() is fixed, or "auto": 1 for a Sentinel URL, 1 once the primary has reported a connected replica
 *   (sticky for the life of this object: a replica that goes away must not silently turn the wait off), else 0,
 *   asked again at most once a second.
 * - WAIT blocks the connection it runs on, so takes get a connection of their own (RedisConnector.leaseTakes()):
 *   renewals and membership heartbeats never queue behind a WAIT.
 * - After a WAIT that fell short, each take first asks INFO how many replicas are connected and fails at once
 *   when too few are, rather than blocking the take connection for the timeout again and again.
 */

/** Waits until enough replicas have a lease take before its token is handed out. */
final class ReplicaAcks {

    /** {@code required} meaning: decide from the deployment. */
    static final int AUTO = -1;

    private static final Logger LOG = LoggerFactory.getLogger(ReplicaAcks.class);
    private static final long AUTO_RECHECK_NANOS = Duration.ofSeconds(1).toNanos();

    private final int configured;
    private final boolean sentinel;
    private final Duration timeout;
    private final String where;
    private final LongSupplier nanoTime;
    private final AtomicBoolean loggedAuto = new AtomicBoolean();
    private final LongAdder refused = new LongAdder();
    private volatile boolean replicasSeen;
    private volatile long autoCheckedAt;
    private volatile boolean autoChecked;
    private volatile boolean fallingShort;

    ReplicaAcks(int configured, boolean sentinel, Duration timeout, String where, LongSupplier nanoTime) {
        this.configured = configured;
        this.sentinel = sentinel;
        this.timeout = timeout;
        this.where = where;
        this.nanoTime = nanoTime;
    }

    /** Replicas that must acknowledge a take; asks the server in auto mode. */
    int required(RedisCommands<String, String> commands) {
        if (configured != AUTO) {
            return configured;
        }
        if (sentinel || replicasSeen) {
            return 1;
        }
        long now = nanoTime.getAsLong();
        if (autoChecked && now - autoCheckedAt < AUTO_RECHECK_NANOS) {
            return 0;
        }
        int connected = connectedReplicas(commands);
        autoCheckedAt = now;
        autoChecked = true;
        if (connected > 0) {
            replicasSeen = true;
            if (loggedAuto.compareAndSet(false, true)) {
                LOG.info(
                        "Redis at {} has {} connected replica(s): every lease token now waits for one of them before"
                                + " it is handed out ({}=auto; set it to 0 to stop waiting)",
                        where,
                        connected,
                        RedisLeases.REPLICAS_KEY);
            }
            return 1;
        }
        return 0;
    }

    /**
     * Fails at once, before a token is drawn, while the last wait fell short and the primary still has fewer than
     * {@code required} replicas connected.
     */
    void checkBeforeTake(RedisCommands<String, String> commands, int required, String key) {
        if (required == 0 || !fallingShort) {
            return;
        }
        int connected = connectedReplicas(commands);
        if (connected < required) {
            throw shortOf(key, "no token was drawn: the primary has " + connected + " connected replica(s)");
        }
    }

    /** Blocks until {@code required} replicas have every write sent on {@code commands}, or fails naming the key. */
    void await(RedisCommands<String, String> commands, int required, String key, long token) {
        if (required == 0) {
            return;
        }
        long acknowledged = commands.waitForReplication(required, Math.max(1, timeout.toMillis()));
        if (acknowledged < required) {
            fallingShort = true;
            throw shortOf(
                    key,
                    "token " + token + " was written on the primary but " + acknowledged + " replica(s)"
                            + " acknowledged it within " + timeout.toMillis() + " ms, so it is not handed out"
                            + " (the key stays taken until its ttl ends)");
        }
        fallingShort = false;
    }

    /** How many replicas the server says are connected to it. */
    private int connectedReplicas(RedisCommands<String, String> commands) {
        String info;
        try {
            info = commands.info("replication");
        } catch (RuntimeException e) {
            throw new ChorusException(
                    "cannot tell whether Redis at " + where + " has replicas (INFO replication failed: "
                            + e.getMessage() + "); set " + RedisLeases.REPLICAS_KEY + " to the number of replicas"
                            + " every lease token must reach, or to 0 for a Redis without replicas",
                    e);
        }
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("connected_slaves:")) {
                return Integer.parseInt(
                        line.substring("connected_slaves:".length()).strip());
            }
        }
        return 0;
    }

    /** Takes refused because too few replicas acknowledged them, or could have, since start. */
    long refused() {
        return refused.sum();
    }

    private ShortOfReplicas shortOf(String key, String what) {
        refused.increment();
        return new ShortOfReplicas("it needs " + describeRequirement() + " to acknowledge the take of '" + key + "': "
                + what + ". A failover now could hand the key to a second owner while this one holds it. Bring the"
                + " replicas back, or set " + RedisLeases.REPLICAS_KEY + "=0 to accept takes that a failover can lose");
    }

    private String describeRequirement() {
        int n = configured == AUTO ? 1 : configured;
        return n + " replica" + (n == 1 ? "" : "s") + (configured == AUTO ? " (auto)" : "");
    }

    /** Fewer replicas than required have (or could have) a take; the message says which and what to do. */
    static final class ShortOfReplicas extends ChorusException {
        ShortOfReplicas(String message) {
            super(message);
        }
    }

    @Override
    public String toString() {
        return configured == AUTO ? "auto" : Integer.toString(configured);
    }
}
