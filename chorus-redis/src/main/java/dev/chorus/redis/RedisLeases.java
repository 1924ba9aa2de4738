package dev.chorus.redis;

import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.LeaseCalls;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.LeaseStoreException;
import dev.chorus.leases.Leases;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Invariants:
 *
 * - Every operation is one Lua script (RedisLeaseScripts). Redis runs one script at a time, so each operation is
 *   atomic against every other on the server.
 * - Expiry is judged by the Redis clock: a lease is its hash, and the hash's PEXPIRE ends it.
 * - The local deadline is System.nanoTime() read before the script is sent, plus the ttl. Redis sets the PEXPIRE,
 *   rounded up to whole milliseconds, after that, so the local deadline passes first (clock rates being equal).
 * - Whoever takes a key draws its token with INCR inside the script that writes the hash. Scripts do not
 *   interleave, so nothing can run between drawing a token and installing it, and the order of the INCRs is the
 *   order of the takeovers: a newer holder of any key has a larger token. (PostgreSQL must keep released rows
 *   because its nextval() runs before the row lock; here drawing and installing cannot come apart.)
 * - Re-acquiring a live lease as its holder only extends it and keeps the token; a claim always draws a new one.
 * - Release and renewal act only if both holder and token match, so a stale Lease cannot touch a newer one.
 * - Across a failover (ReplicaAcks, docs/redis.md): a take is handed out only after WAIT saw the required
 *   replicas acknowledge it, so the replica Sentinel promotes normally has every lease handed out. When it does not
 *   (WAIT turned off, or a replica promoted that had not acknowledged), the new primary may hand out a held key
 *   again, but never a token issued before: tokens are at least the server clock in microseconds (TAKE).
 */

/**
 * {@link Leases} in Redis: one hash per key under {@code <prefix>:lease:}, fencing tokens from the counter {@code
 * <prefix>:lease-tokens}, expiry judged by the Redis clock.
 *
 * <pre>{@code
 * Leases leases = RedisLeases.builder(connector, replicaId).build();
 * }</pre>
 *
 * <p>Scripts run on virtual threads (or the injected executor) over the connector's shared command connection,
 * each bounded by the connector's command timeout; futures complete on those threads, never on a Lettuce I/O
 * thread. A script that fails completes the future with a {@link LeaseStoreException}. As with any remote call,
 * a {@code tryAcquire} or {@code claim} that timed out may still have taken the key; it expires after its ttl.
 *
 * <p>On Redis with replicas, a take is handed out only once {@linkplain Builder#replicas(int) enough replicas}
 * acknowledged it ({@code WAIT}); by default one whenever the deployment has replicas. A take they do not
 * acknowledge in time fails with a {@link LeaseStoreException} saying so.
 */
public final class RedisLeases implements Leases {

    /** The longest key accepted, in characters. */
    public static final int MAX_KEY_LENGTH = LeaseCalls.MAX_KEY_LENGTH;
    /** The longest time to live accepted. */
    public static final Duration MAX_TTL = LeaseCalls.MAX_TTL;
    /** Configuration key of {@link Builder#replicas(int)}: {@code auto} (default) or a number of replicas. */
    public static final String REPLICAS_KEY = ChorusConfig.REDIS_LEASE_REPLICAS;
    /** {@link Builder#replicas(int)} value: wait for one replica whenever the deployment has replicas. */
    public static final int AUTO_REPLICAS = ReplicaAcks.AUTO;
    /** Default time replicas have to acknowledge a take. */
    public static final Duration DEFAULT_REPLICA_TIMEOUT = Duration.ofSeconds(1);

    private static final Logger LOG = LoggerFactory.getLogger(RedisLeases.class);

    private final RedisConnector redis;
    private final ReplicaId self;
    private final String holder;
    private final String holderName;
    private final String tokensKey;
    private final LeaseCalls calls;
    private final LongSupplier nanoTime;
    private final ReplicaAcks replicaAcks;

    private RedisLeases(Builder builder) {
        this.redis = builder.redis;
        this.self = builder.self;
        this.holder = self.uuid().toString();
        String name = self.name();
        this.holderName = name == null ? "" : name;
        this.tokensKey = redis.key("lease-tokens");
        this.calls = new LeaseCalls(self, builder.executor, key -> {});
        this.nanoTime = builder.nanoTime;
        this.replicaAcks = new ReplicaAcks(
                builder.replicas, redis.isSentinel(), builder.replicaTimeout, redis.describe(), System::nanoTime);
        if (builder.replicas == 0) {
            LOG.warn(
                    "Redis leases at {} do not wait for replicas ({}=0): if Redis has replicas, a failover can lose"
                            + " takes and hand a held key to a second owner (tokens still grow)",
                    redis.describe(),
                    REPLICAS_KEY);
        }
    }

    /** A builder for {@code self}'s leases in the Redis of {@code connector}. */
    public static Builder builder(RedisConnector connector, ReplicaId self) {
        return new Builder(connector, self);
    }

    /** {@code self}'s leases configured from {@code config} ({@value #REPLICAS_KEY}). */
    public static RedisLeases from(ChorusConfig config, RedisConnector connector, ReplicaId self) {
        return builder(connector, self)
                .replicas(config.redisLeaseReplicas().orElse(AUTO_REPLICAS))
                .build();
    }

    @Override
    public CompletableFuture<Optional<Lease>> tryAcquire(String key, Duration ttl) {
        return run("tryAcquire", key, ttl, commands -> {
            long sent = nanoTime.getAsLong();
            long token = take(key, ttl, "acquire");
            return token == 0 ? Optional.empty() : Optional.of(lease(key, token, ttl, sent));
        });
    }

    @Override
    public CompletableFuture<Lease> claim(String key, Duration ttl) {
        return run("claim", key, ttl, commands -> {
            long sent = nanoTime.getAsLong();
            return lease(key, take(key, ttl, "claim"), ttl, sent);
        });
    }

    @Override
    public CompletableFuture<List<Lease>> claimAll(List<String> keys, Duration ttl) {
        List<String> batch = List.copyOf(keys);
        return calls.submitAll(
                "claimAll",
                batch,
                ttl,
                () -> execute("claimAll", batch.getFirst(), ignored -> {
                    // Like a single take: on the take connection, and handed out only once replicas have it.
                    RedisCommands<String, String> commands = redis.leaseTakes().sync();
                    int replicas = replicaAcks.required(commands);
                    replicaAcks.checkBeforeTake(commands, replicas, batch.getFirst());
                    String[] redisKeys = new String[batch.size() + 1];
                    for (int i = 0; i < batch.size(); i++) {
                        redisKeys[i] = leaseKey(batch.get(i));
                    }
                    redisKeys[batch.size()] = tokensKey;
                    long sent = nanoTime.getAsLong();
                    List<Object> tokens = RedisLeaseScripts.CLAIM_ALL.run(
                            commands,
                            ScriptOutputType.MULTI,
                            redisKeys,
                            holder,
                            holderName,
                            Long.toString(ceilMillis(ttl)));
                    if (tokens.size() != batch.size()) {
                        throw new ChorusException(
                                "the batch claim returned " + tokens.size() + " tokens for " + batch.size() + " keys");
                    }
                    // One WAIT covers the batch: replication is in order, so the last token carries the others.
                    replicaAcks.await(commands, replicas, batch.getLast(), (Long) tokens.getLast());
                    List<Lease> leases = new ArrayList<>(batch.size());
                    for (int i = 0; i < batch.size(); i++) {
                        leases.add(lease(batch.get(i), (Long) tokens.get(i), ttl, sent));
                    }
                    return leases;
                }));
    }

    @Override
    public CompletableFuture<Lease> renew(Lease lease) {
        return run("renew", lease, commands -> {
            long sent = nanoTime.getAsLong();
            List<Object> reply = RedisLeaseScripts.RENEW.run(
                    commands,
                    ScriptOutputType.MULTI,
                    new String[] {leaseKey(lease.key())},
                    holder,
                    Long.toString(lease.token()),
                    Long.toString(ceilMillis(lease.ttl())));
            if ("renewed".equals(reply.get(0))) {
                return lease(lease.key(), lease.token(), lease.ttl(), sent);
            }
            throw new LeaseLostException(
                    lease.key(),
                    lease.token(),
                    whyLost(lease, text(reply.get(1)), text(reply.get(2)), text(reply.get(3))));
        });
    }

    @Override
    public CompletableFuture<List<Optional<Lease>>> renewAll(List<Lease> leases) {
        List<Lease> batch = List.copyOf(leases);
        return calls.submitAll(
                "renewAll",
                batch,
                () -> execute("renewAll", batch.getFirst().key(), commands -> {
                    String[] keys = new String[batch.size()];
                    String[] args = new String[1 + 2 * batch.size()];
                    args[0] = holder;
                    for (int i = 0; i < batch.size(); i++) {
                        keys[i] = leaseKey(batch.get(i).key());
                        args[1 + 2 * i] = Long.toString(batch.get(i).token());
                        args[2 + 2 * i] = Long.toString(ceilMillis(batch.get(i).ttl()));
                    }
                    long sent = nanoTime.getAsLong();
                    List<Object> renewed =
                            RedisLeaseScripts.RENEW_ALL.run(commands, ScriptOutputType.MULTI, keys, args);
                    List<Optional<Lease>> result = new ArrayList<>(batch.size());
                    for (int i = 0; i < batch.size(); i++) {
                        Lease lease = batch.get(i);
                        result.add(
                                Long.valueOf(1).equals(renewed.get(i))
                                        ? Optional.of(lease(lease.key(), lease.token(), lease.ttl(), sent))
                                        : Optional.empty());
                    }
                    return result;
                }));
    }

    @Override
    public CompletableFuture<Void> release(Lease lease) {
        return run("release", lease, commands -> {
            RedisLeaseScripts.RELEASE.run(
                    commands,
                    ScriptOutputType.INTEGER,
                    new String[] {leaseKey(lease.key())},
                    holder,
                    Long.toString(lease.token()));
            return null;
        });
    }

    @Override
    public CompletableFuture<Optional<LeaseOwner>> owner(String key) {
        return run("owner", key, null, commands -> {
            List<Object> reply =
                    RedisLeaseScripts.OWNER.run(commands, ScriptOutputType.MULTI, new String[] {leaseKey(key)});
            if (reply.isEmpty()) {
                return Optional.empty();
            }
            long pttl = (Long) reply.get(3);
            Instant serverNow = Instant.ofEpochSecond(
                    Long.parseLong(text(reply.get(4))), Long.parseLong(text(reply.get(5))) * 1_000);
            // A hash without expiry was not written by these scripts (they set both at once); it never expires.
            Instant expiresAt = pttl < 0 ? Instant.MAX : serverNow.plusMillis(pttl);
            return Optional.of(new LeaseOwner(
                    key,
                    replica(text(reply.get(0)), text(reply.get(1))),
                    Long.parseLong(text(reply.get(2))),
                    expiresAt));
        });
    }

    /** Takes refused since start because too few replicas acknowledged them (or were connected to). */
    public long takesRefusedForReplicas() {
        return replicaAcks.refused();
    }

    /** Refuses further operations; leases held stay until released or expired. Idempotent. */
    @Override
    public void close() {
        calls.close();
    }

    @Override
    public String toString() {
        return "RedisLeases{" + self.shortForm() + " prefix=" + redis.prefix() + " replicas=" + replicaAcks + " on "
                + redis.describe() + "}";
    }

    /** Takes the key on the take connection and waits for replicas; returns the token, or 0 if another holds it. */
    private long take(String key, Duration ttl, String mode) {
        RedisCommands<String, String> commands = redis.leaseTakes().sync();
        int replicas = replicaAcks.required(commands);
        replicaAcks.checkBeforeTake(commands, replicas, key);
        Long token = RedisLeaseScripts.TAKE.run(
                commands,
                ScriptOutputType.INTEGER,
                new String[] {leaseKey(key), tokensKey},
                holder,
                holderName,
                Long.toString(ceilMillis(ttl)),
                mode);
        if (token == null) {
            throw new ChorusException("the lease hash has a holder but no token; was it written by hand?");
        }
        if (token != 0) {
            replicaAcks.await(commands, replicas, key, token);
        }
        return token;
    }

    private String leaseKey(String key) {
        return redis.key("lease:" + key);
    }

    private Lease lease(String key, long token, Duration ttl, long sentNanos) {
        return new Lease(key, self, token, ttl, sentNanos + ttl.toNanos(), nanoTime);
    }

    private static String whyLost(Lease lease, String holder, String token, String name) {
        if (token.isEmpty()) {
            return "it expired before the renewal";
        }
        if (!token.equals(Long.toString(lease.token()))) {
            return holder.isEmpty()
                    ? "taken over with token " + token + " (since released)"
                    : "taken over by " + replica(holder, name).shortForm() + " with token " + token;
        }
        return holder.isEmpty()
                ? "it was released"
                : "the key is held by " + holder + " with the same token (was it written by hand?)";
    }

    private <T> CompletableFuture<T> run(String operation, Lease lease, Operation<T> operationBody) {
        return calls.submit(operation, lease, () -> execute(operation, lease.key(), operationBody));
    }

    private <T> CompletableFuture<T> run(
            String operation, String key, @Nullable Duration ttl, Operation<T> operationBody) {
        return calls.submit(operation, key, ttl, () -> execute(operation, key, operationBody));
    }

    private <T> T execute(String operation, String key, Operation<T> operationBody) {
        try {
            return operationBody.run(redis.commands().sync());
        } catch (LeaseLostException e) {
            throw e;
        } catch (ReplicaAcks.ShortOfReplicas e) {
            throw new LeaseStoreException(
                    operation,
                    key,
                    "Lease " + operation + " of '" + key + "' on " + redis.describe() + " (prefix " + redis.prefix()
                            + ") failed: " + e.getMessage(),
                    e);
        } catch (RuntimeException e) {
            // Connection refused, command timeout, WRONGTYPE on a foreign key, a reply we cannot parse.
            throw new LeaseStoreException(
                    operation,
                    key,
                    "Lease " + operation + " of '" + key + "' failed on " + redis.describe() + " (prefix "
                            + redis.prefix() + "): " + FailureLog.describe(e),
                    e);
        }
    }

    private static String text(@Nullable Object reply) {
        return reply == null ? "" : reply.toString();
    }

    private static ReplicaId replica(String uuid, String name) {
        UUID id = UUID.fromString(uuid);
        try {
            return ReplicaId.of(id, name);
        } catch (ChorusException e) {
            // A name this version would not accept (written by hand, or by another version): keep the id.
            return ReplicaId.of(id, null);
        }
    }

    /** Whole milliseconds, rounded up so Redis never ends a lease before its local deadline. */
    private static long ceilMillis(Duration duration) {
        long nanos = duration.toNanos();
        return nanos / 1_000_000 + (nanos % 1_000_000 == 0 ? 0 : 1);
    }

    /** One lease operation's scripts on the shared command connection. */
    @FunctionalInterface
    private interface Operation<T> {
        T run(RedisCommands<String, String> commands);
    }

    /** Builds {@link RedisLeases}. */
    public static final class Builder {
        private final RedisConnector redis;
        private final ReplicaId self;
        private @Nullable Executor executor;
        private LongSupplier nanoTime = System::nanoTime;
        private int replicas = AUTO_REPLICAS;
        private Duration replicaTimeout = DEFAULT_REPLICA_TIMEOUT;

        private Builder(RedisConnector redis, ReplicaId self) {
            this.redis = Objects.requireNonNull(redis, "connector");
            this.self = Objects.requireNonNull(self, "self");
        }

        /** Runs the scripts; a new virtual thread per operation unless set. Not shut down by {@code close()}. */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The monotonic clock lease deadlines are measured on; {@code System::nanoTime} unless set. */
        public Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        /**
         * Replicas that must acknowledge a take ({@code WAIT}) before its token is handed out: {@link #AUTO_REPLICAS}
         * (default) waits for one whenever the URL names Sentinels or the primary has reported a connected replica
         * since start; 0 never waits (logged at WARN), for a Redis without replicas or to accept takes a failover can
         * lose.
         */
        public Builder replicas(int replicas) {
            if (replicas < 0 && replicas != AUTO_REPLICAS) {
                throw new ChorusException("Lease replicas must be " + AUTO_REPLICAS + " (auto) or at least 0, was "
                        + replicas + " (for example " + REPLICAS_KEY + "=1)");
            }
            this.replicas = replicas;
            return this;
        }

        /** How long replicas have to acknowledge a take; 1 s by default, less than the connector's command timeout. */
        public Builder replicaTimeout(Duration replicaTimeout) {
            this.replicaTimeout = Checks.positive("replica timeout", replicaTimeout);
            return this;
        }

        /** The leases; nothing connects until the first operation. */
        public RedisLeases build() {
            if (replicaTimeout.compareTo(redis.commandTimeout()) >= 0) {
                throw new ChorusException("The lease replica timeout (" + replicaTimeout.toMillis() + " ms) must be"
                        + " shorter than the Redis command timeout ("
                        + redis.commandTimeout().toMillis() + " ms),"
                        + " or every WAIT that runs out would surface as a command timeout");
            }
            return new RedisLeases(this);
        }
    }
}
