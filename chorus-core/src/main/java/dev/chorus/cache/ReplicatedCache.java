package dev.chorus.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.chorus.ChorusConfig;
import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.backplane.TransactionalBackplane;
import dev.chorus.health.Health;
import dev.chorus.health.HealthIndicator;
import dev.chorus.internal.Checks;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.wire.Envelope;
import java.io.IOException;
import java.sql.Connection;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Past 600 lines on purpose: a third of it is the Javadoc of the public API and its Builder, which are one type
 * for users; the trust state machine (CacheTrust, Writers), the message format (CacheWire) and the bounds
 * (CacheBounds) already live beside it. What remains shares the generation stripes: reads, writes and what is
 * heard all bump or check them.
 */

/**
 * A near cache on every replica whose invalidations cannot be silently missed: a replica either hears every
 * invalidation of a key, or knows it may have missed some and repairs (flushes), or stops answering from the
 * cache until it can prove it hears them again.
 *
 * <p>The guarantee in one sentence: with the default {@link StalenessPolicy#BYPASS}, no read returns a value
 * that was replaced more than the staleness bound before the read began, provided a heartbeat crosses the
 * backplane within half a heartbeat interval (see {@code docs/cache.md} for the argument and its limits).
 *
 * <p>How:
 *
 * <ul>
 *   <li>Invalidations travel on the topic {@code chorus.cache.<name>}; the backplane tracks every origin's
 *       sequence on it, so a lost invalidation shows up as a gap, a new epoch, a reconnect or an overflow,
 *       and each of those flushes this replica's cache.
 *   <li>Every replica also sends a heartbeat on the topic every heartbeat interval. A heartbeat in sequence
 *       proves that everything its origin sent before it arrived. While some origin has not been heard for
 *       the staleness bound (minus half an interval), or the backplane has not been HEALTHY for as long,
 *       reads bypass the cache; once everything is heard again the cache is flushed and used again.
 *   <li>With a {@link Builder#membership membership}, every replica it lists could write to the storage, so
 *       the cache trusts itself only while it hears each of them on the topic: a replica listed but not heard
 *       (another backplane or channel sharing the storage) keeps reads bypassing (see {@code Writers}).
 *   <li>A load records a per-key generation before calling the loader and keeps its value only if no
 *       invalidation of that key (nor a flush) happened meanwhile, so a value loaded before an invalidation
 *       is never stored after it.
 * </ul>
 *
 * <p>When the cache is trusted is {@code CacheTrust}'s to decide (with {@code Writers}); what travels on the
 * topic is {@code CacheWire}'s format. This class keeps the near cache, loading and the wiring between them.
 *
 * @param <K> key type; keys travel through the {@link KeyCodec}
 * @param <V> value type; values never leave this replica
 */
public final class ReplicatedCache<K, V> implements HealthIndicator, AutoCloseable {

    /** Default time after which a replica that cannot prove it hears invalidations stops using its cache. */
    public static final Duration DEFAULT_STALENESS_BOUND = Duration.ofSeconds(5);
    /** Default interval of the heartbeats that prove invalidations flow. */
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(1);
    /** Default maximum number of entries. */
    public static final long DEFAULT_MAXIMUM_SIZE = 10_000;
    /** Topic prefix; the cache name follows it. */
    public static final String TOPIC_PREFIX = "chorus.cache.";

    private static final Logger LOG = LoggerFactory.getLogger(ReplicatedCache.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
    private static final int STRIPES = 4096;
    private static final int MAX_PENDING_KEYS = 10_000;

    private final Backplane backplane;
    private final String name;
    private final String topic;
    private final KeyCodec<K> codec;
    private final Duration stalenessBound;
    private final Duration heartbeatInterval;
    private final StalenessPolicy policy;
    private final boolean replication;
    private final @Nullable Membership membership;
    private final ReplicaId self;

    private final Cache<K, V> cache;
    private final AtomicLongArray generations = new AtomicLongArray(STRIPES);
    private final AtomicLong flushEpoch = new AtomicLong();
    private final ConcurrentHashMap<K, Load<V>> inFlight = new ConcurrentHashMap<>();

    /** When reads may use the cache; calls {@link #flush} when the cache must be emptied. */
    private final CacheTrust trust;

    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder loads = new LongAdder();
    private final LongAdder loadFailures = new LongAdder();
    private final LongAdder localInvalidations = new LongAdder();
    private final LongAdder remoteInvalidations = new LongAdder();
    private final LongAdder gapsDetected = new LongAdder();
    private final LongAdder flushes = new LongAdder();
    private final LongAdder bypassedReads = new LongAdder();
    private final LongAdder staleFillsPrevented = new LongAdder();
    private final LongAdder evictions = new LongAdder();

    private final @Nullable Subscription subscription;
    private final @Nullable Subscription membershipSubscription;
    private final ScheduledExecutorService scheduler;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile int replicasSeenWithReplicationOff;

    private ReplicatedCache(Builder<K, V> b) {
        this.backplane = b.backplane;
        this.name = b.name;
        this.topic = TOPIC_PREFIX + b.name;
        this.codec = b.codec;
        this.stalenessBound = b.stalenessBound;
        this.heartbeatInterval = b.heartbeatInterval;
        this.policy = b.policy;
        this.replication = b.replication;
        this.membership = b.membership;
        this.self = backplane.replica();

        Caffeine<K, V> caffeine = new CacheBounds<V>(b.maximumSize, b.maximumBytes, b.weigher).caffeine(evictions);
        if (b.expireAfterWrite != null) {
            caffeine.expireAfterWrite(b.expireAfterWrite);
        }
        this.cache = caffeine.build();

        long interval = heartbeatInterval.toNanos();
        Duration watchPeriod = watchPeriod();
        long checkEvery = watchPeriod.toNanos();
        this.trust = new CacheTrust(
                name,
                topic,
                backplane,
                membership,
                replication,
                policy,
                stalenessBound,
                heartbeatInterval,
                watchPeriod,
                b.nanoClock,
                this::flush);
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("chorus-cache-" + name).factory());

        if (replication) {
            Subscription subscribed;
            try {
                subscribed = backplane.subscribe(topic, new Listener());
            } catch (RuntimeException e) {
                scheduler.shutdownNow();
                throw e;
            }
            this.subscription = subscribed;
            try {
                this.membershipSubscription = membership == null ? null : membership.onChange(trust.membershipWatch());
            } catch (RuntimeException e) {
                // A half-built cache must not keep listening or keep its thread.
                subscribed.close();
                scheduler.shutdownNow();
                throw e;
            }
            trust.start();
            scheduler.scheduleWithFixedDelay(this::watch, checkEvery, checkEvery, TimeUnit.NANOSECONDS);
            scheduler.scheduleWithFixedDelay(this::heartbeat, 0, interval, TimeUnit.NANOSECONDS);
            LOG.info(
                    "Replicated cache '{}' on the {} backplane (topic {}): staleness bound {}, heartbeat every {},"
                            + " policy {}",
                    name,
                    backplane.backend(),
                    topic,
                    stalenessBound,
                    heartbeatInterval,
                    policy);
        } else {
            this.subscription = null;
            this.membershipSubscription = membership == null ? null : membership.onChange(new ReplicationOffWatch());
            LOG.info(
                    "Replicated cache '{}' has replication off ({}=off): invalidations stay on this replica,"
                            + " correct only while it is the only one",
                    name,
                    ChorusConfig.CACHE_REPLICATION);
            if (membership != null) {
                scheduler.execute(() -> checkAlone(membership.liveCount()));
            }
        }
    }

    /** Starts building a cache named {@code name} (letters, digits, {@code . _ -}) on {@code backplane}. */
    public static <K, V> Builder<K, V> builder(Backplane backplane, String name, KeyCodec<K> codec) {
        return new Builder<>(backplane, name, codec);
    }

    /** The cache's name, the same on every replica. */
    public String name() {
        return name;
    }

    /** The backplane topic its invalidations travel on. */
    public String topic() {
        return topic;
    }

    // ---- reads ----

    /**
     * The value for {@code key}: from the cache when it holds one and invalidations are known to flow,
     * otherwise from {@code loader} (concurrent loads of one key share one loader call). A null from the
     * loader is returned and not cached; an exception from the loader propagates and nothing is cached.
     */
    public @Nullable V get(K key, Function<? super K, ? extends @Nullable V> loader) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(loader, "loader");
        checkOpen();
        if (trust.isTrusted()) {
            V value = cache.getIfPresent(key);
            if (value != null) {
                hits.increment();
                return value;
            }
            misses.increment();
            return loadAndFill(key, loader);
        }
        bypassedReads.increment();
        if (policy == StalenessPolicy.SERVE_STALE) {
            V value = cache.getIfPresent(key);
            return value != null ? value : loadAndFill(key, loader);
        }
        // Nothing loaded now may be kept: the cache is flushed before it is used again.
        try {
            V value = loader.apply(key);
            loads.increment();
            return value;
        } catch (RuntimeException | Error e) {
            loadFailures.increment();
            throw e;
        }
    }

    /** The cached value for {@code key}, or null when absent or when the cache is being bypassed. */
    public @Nullable V getIfPresent(K key) {
        Objects.requireNonNull(key, "key");
        checkOpen();
        if (!trust.isTrusted() && policy == StalenessPolicy.BYPASS) {
            bypassedReads.increment();
            return null;
        }
        V value = cache.getIfPresent(key);
        if (value != null) {
            hits.increment();
        } else {
            misses.increment();
        }
        return value;
    }

    private @Nullable V loadAndFill(K key, Function<? super K, ? extends @Nullable V> loader) {
        long epoch = flushEpoch.get();
        int stripe = stripe(key);
        long generation = generations.get(stripe);
        Load<V> mine = new Load<>(epoch, generation);
        Load<V> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            if (running.epoch == epoch && running.generation == generation) {
                return join(running.result);
            }
            // That load began before an invalidation of this key: its value may be older than the read.
            return loadOnce(key, loader, null, epoch, stripe, generation);
        }
        try {
            return loadOnce(key, loader, mine, epoch, stripe, generation);
        } finally {
            inFlight.remove(key, mine);
        }
    }

    private @Nullable V loadOnce(
            K key,
            Function<? super K, ? extends @Nullable V> loader,
            @Nullable Load<V> shared,
            long epoch,
            int stripe,
            long generation) {
        V value;
        boolean returned = false;
        try {
            value = loader.apply(key);
            returned = true;
        } finally {
            // Also for a checked exception thrown sneakily (Kotlin, Lombok): readers waiting on this load
            // must not wait forever.
            if (!returned) {
                loadFailures.increment();
                if (shared != null) {
                    shared.result.completeExceptionally(
                            new ChorusException("The loader of cache '" + name + "' failed for this key"));
                }
            }
        }
        loads.increment();
        if (value != null) {
            fill(key, value, epoch, stripe, generation);
        }
        if (shared != null) {
            shared.result.complete(value);
        }
        return value;
    }

    /**
     * Stores a loaded value unless its key was invalidated (or the cache flushed) since the load began.
     *
     * <p>Put first, check second: an invalidation bumps the generation before it removes the entry, so
     * either this check sees the bump and takes the value back out, or the invalidation's removal comes
     * after the put and removes it. No lock is shared with invalidations.
     */
    private void fill(K key, V value, long epoch, int stripe, long generation) {
        cache.put(key, value);
        if (flushEpoch.get() != epoch || generations.get(stripe) != generation) {
            cache.asMap().computeIfPresent(key, (k, current) -> current == value ? null : current);
            staleFillsPrevented.increment();
        }
    }

    private static <V> @Nullable V join(CompletableFuture<@Nullable V> result) {
        try {
            return result.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw new CompletionException(cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ChorusException("Interrupted while waiting for another thread's load of the same key", e);
        }
    }

    // ---- writes ----

    /**
     * Stores {@code value} here and invalidates {@code key} on every other replica, which load it again when
     * read. Call it after the source of truth holds {@code value}.
     */
    public void put(K key, V value) {
        Objects.requireNonNull(value, "value");
        checkOpen();
        String encoded = encode(key);
        long epoch = flushEpoch.get();
        int stripe = stripe(key);
        dropLocally(key, stripe);
        localInvalidations.increment();
        announce(CacheWire.INVALIDATE, encoded);
        fill(key, value, epoch, stripe, generations.get(stripe));
    }

    /**
     * Drops {@code key} here and on every other replica. Call it after the change to the source of truth is
     * durable (committed); to tie it to a transaction, use {@link #invalidate(Connection, Object)} or {@link
     * #invalidateOnCommit}.
     */
    public void invalidate(K key) {
        checkOpen();
        String encoded = encode(key);
        dropLocally(key, stripe(key));
        localInvalidations.increment();
        announce(CacheWire.INVALIDATE, encoded);
    }

    /** Drops every entry here and on every other replica. */
    public void invalidateAll() {
        checkOpen();
        flushLocally();
        localInvalidations.increment();
        announce(CacheWire.INVALIDATE_ALL, "");
    }

    /**
     * Invalidates {@code key} on every replica if and only if {@code transaction} commits, even if this
     * replica dies right after the commit. The key is dropped here at once too; after the commit the
     * backplane delivers the invalidation to every replica, this one included.
     *
     * @throws ChorusException when the backplane cannot tie a message to a transaction (only {@link
     *     TransactionalBackplane}s can; use {@link #invalidateOnCommit} with the others)
     */
    public void invalidate(Connection transaction, K key) {
        Objects.requireNonNull(transaction, "transaction");
        String encoded = encode(key);
        checkOpen();
        if (!replication) {
            // No subscription hears the relayed message, so nothing would drop a value reloaded before the commit.
            throw new ChorusException("Cache '" + name + "' has replication off, so it cannot hear when the"
                    + " transaction commits. Use invalidateOnCommit(key) and call committed() after the commit.");
        }
        if (!(backplane instanceof TransactionalBackplane transactional)) {
            throw new ChorusException("Cache '" + name + "' cannot tie an invalidation to a database transaction:"
                    + " the " + backplane.backend() + " backplane does not support it. Use"
                    + " invalidateOnCommit(key) and call committed() after the commit, or run on the postgres"
                    + " backplane.");
        }
        dropLocally(key, stripe(key));
        localInvalidations.increment();
        if (replication) {
            transactional.publish(transaction, message(CacheWire.INVALIDATE_COMMITTED, List.of(encoded)));
        }
    }

    /**
     * An invalidation of {@code keys} announced only when the caller reports its commit; see {@link
     * PendingInvalidation}. The keys are dropped here at once.
     */
    @SafeVarargs
    public final PendingInvalidation invalidateOnCommit(K... keys) {
        return invalidateOnCommit(List.of(keys));
    }

    /** As {@link #invalidateOnCommit(Object[])}, for a collection of keys. */
    public PendingInvalidation invalidateOnCommit(Collection<? extends K> keys) {
        checkOpen();
        List<K> copy = List.copyOf(keys);
        copy.forEach(this::encode);
        for (K key : copy) {
            dropLocally(key, stripe(key));
        }
        AtomicBoolean done = new AtomicBoolean();
        return new PendingInvalidation() {
            @Override
            public void committed() {
                if (done.compareAndSet(false, true)) {
                    copy.forEach(ReplicatedCache.this::invalidate);
                }
            }

            @Override
            public void close() {
                done.set(true);
            }
        };
    }

    private String encode(K key) {
        Objects.requireNonNull(key, "key");
        String encoded = codec.encode(key);
        if (encoded.length() > CacheWire.MAX_KEY_CHARS) {
            throw new ChorusException(
                    "Cache '" + name + "': key encodes to " + encoded.length() + " characters, over the limit of "
                            + CacheWire.MAX_KEY_CHARS + "; use a shorter key codec (an id, or a hash of the key)");
        }
        return encoded;
    }

    private void dropLocally(K key, int stripe) {
        // Generation first: a load that fills after this sees it and takes its value back out.
        generations.incrementAndGet(stripe);
        cache.invalidate(key);
    }

    private void flushLocally() {
        flushEpoch.incrementAndGet();
        cache.invalidateAll();
    }

    private void flush(String cause) {
        flushLocally();
        flushes.increment();
        LOG.info("Cache '{}' flushed: {}", name, cause);
    }

    private static int stripe(Object key) {
        int h = key.hashCode();
        return (h ^ (h >>> 16)) & (STRIPES - 1);
    }

    // ---- announcing ----

    /**
     * Publishes an invalidation. The backplane stamps it with the next sequence number before it tries to
     * send it, so one that fails to reach a replica shows up there as a gap (and a flush) with the next
     * message, at the latest the next heartbeat: the returned future needs no handling here.
     */
    private void announce(byte op, String key) {
        if (replication) {
            backplane.publish(message(op, op == CacheWire.INVALIDATE_ALL ? List.of() : List.of(key)));
        }
    }

    private Message message(byte op, List<String> keys) {
        return Message.of(topic, CacheWire.encode(op, keys));
    }

    private void heartbeat() {
        if (closed.get()) {
            return;
        }
        try {
            backplane.publish(message(CacheWire.HEARTBEAT, List.of()));
        } catch (RuntimeException e) {
            LOG.debug("Cache '{}' heartbeat not sent: {}", name, e.toString());
        }
    }

    // ---- hearing ----

    /** Applies what arrives on the cache's topic, on the subscription's delivery thread. */
    private final class Listener implements Subscriber {
        @Override
        public void onMessage(Envelope envelope) {
            byte[] payload = envelope.payload();
            boolean fromSelf = envelope.isFrom(self);
            CacheWire.Decoded decoded;
            try {
                decoded = CacheWire.decode(payload);
            } catch (IOException e) {
                flush("an unreadable message from " + envelope.origin() + " on " + topic
                        + " (another Chorus version?), so an invalidation may have been lost");
                return;
            }
            byte op = decoded.op();
            List<String> keys = decoded.keys();
            switch (op) {
                case CacheWire.INVALIDATE -> {
                    // This replica applied its own plain invalidations when they were made.
                    if (!fromSelf) {
                        applyRemote(keys, envelope);
                    }
                }
                case CacheWire.INVALIDATE_COMMITTED -> applyRemote(keys, envelope);
                case CacheWire.INVALIDATE_ALL -> {
                    if (!fromSelf) {
                        flushLocally();
                        remoteInvalidations.increment();
                    }
                }
                case CacheWire.HEARTBEAT -> {}
                case CacheWire.LEAVE -> {
                    if (!fromSelf) {
                        trust.saidGoodbye(envelope.origin());
                    }
                    return;
                }
                default -> {
                    flush("a message of unknown kind '" + (char) op + "' from " + envelope.origin() + " on " + topic
                            + " (a newer Chorus version?)");
                    return;
                }
            }
            // Unsequenced envelopes (NOTIFY inside a caller's transaction) travel another path and prove
            // nothing about the origin's sequenced stream.
            if (!fromSelf && envelope.sequence() > 0) {
                trust.heard(envelope);
            }
        }

        @Override
        public void onMissed(Missed missed) {
            if (missed.cause() == Missed.Cause.SEQUENCE_GAP || missed.cause() == Missed.Cause.NEW_EPOCH) {
                gapsDetected.increment();
            }
            flush("invalidations may have been missed (" + missed.cause() + ": " + missed.detail() + ")");
        }
    }

    private void applyRemote(List<String> keys, Envelope envelope) {
        for (String text : keys) {
            K key;
            try {
                key = codec.decode(text);
            } catch (RuntimeException e) {
                flush("key '" + text + "' from " + envelope.origin() + " could not be decoded (" + e.getMessage()
                        + "), so its entry could not be found");
                continue;
            }
            dropLocally(key, stripe(key));
            remoteInvalidations.increment();
        }
    }

    // ---- watching ----

    /** Periodic check of trust, on the cache's thread. */
    private void watch() {
        if (closed.get()) {
            return;
        }
        trust.watch();
    }

    /** Warns when a second replica appears while replication is off. */
    private final class ReplicationOffWatch implements MembershipListener {
        @Override
        public void onJoined(Member member) {
            Membership m = membership;
            if (m != null) {
                checkAlone(m.liveCount());
            }
        }
    }

    private void checkAlone(int live) {
        if (live > 1) {
            replicasSeenWithReplicationOff = live;
            LOG.warn(
                    "Cache '{}' has replication off ({}=off) but {} replicas are live: a change made on one"
                            + " replica leaves stale entries in the others' caches. Turn replication on.",
                    name,
                    ChorusConfig.CACHE_REPLICATION,
                    live);
        }
    }

    // ---- health, stats, lifecycle ----

    /**
     * HEALTHY while the cache is used with proof that invalidations flow; DEGRADED with the reason while
     * reads bypass it, while it serves possibly stale values, or when replication is off with several
     * replicas live; DOWN once closed.
     */
    @Override
    public Health health() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("cache", name);
        details.put("replication", replication ? "on" : "off");
        details.put("stalenessBound", stalenessBound.toString());
        details.put("policy", policy.name());
        details.put("size", cache.estimatedSize());
        if (closed.get()) {
            return new Health(Health.Status.DOWN, "closed", details);
        }
        if (!replication) {
            int live = replicasSeenWithReplicationOff;
            if (live > 1) {
                return new Health(
                        Health.Status.DEGRADED,
                        "replication is off but " + live + " replicas were seen live; their caches go stale",
                        details);
            }
            return new Health(Health.Status.HEALTHY, "ok", details);
        }
        Map<ReplicaId, Duration> unheard = unheard();
        if (!unheard.isEmpty()) {
            details.put(
                    "unheard",
                    unheard.keySet().stream().map(ReplicaId::toString).toList());
        }
        if (trust.isTrusted()) {
            return new Health(Health.Status.HEALTHY, "ok", details);
        }
        String reason = trust.distrustReasonNow();
        return new Health(
                Health.Status.DEGRADED,
                (policy == StalenessPolicy.BYPASS
                                ? "reads bypass the cache: "
                                : "serving possibly stale values (SERVE_STALE): ")
                        + reason,
                details);
    }

    /** Whether reads are answered from the cache right now (false while it is bypassed). */
    public boolean isServing() {
        return !replication || trust.isTrusted() || policy == StalenessPolicy.SERVE_STALE;
    }

    /** Runs Caffeine's pending evictions now (tests: they otherwise run asynchronously). */
    void cleanUp() {
        cache.cleanUp();
    }

    /** Counters since the cache was built. */
    public CacheStats stats() {
        return new CacheStats(
                hits.sum(),
                misses.sum(),
                loads.sum(),
                loadFailures.sum(),
                localInvalidations.sum(),
                remoteInvalidations.sum(),
                gapsDetected.sum(),
                flushes.sum(),
                bypassedReads.sum(),
                staleFillsPrevented.sum(),
                cache.estimatedSize(),
                evictions.sum());
    }

    /**
     * Replicas the membership lists as live that this cache has not heard on its topic, and for how long: while
     * any is, reads bypass the cache, since that replica may change the shared storage unannounced. Empty
     * without a {@link Builder#membership membership} or with replication off.
     */
    public Map<ReplicaId, Duration> unheard() {
        return trust.unheard();
    }

    /** Replicas this cache currently expects heartbeats from, for diagnostics. */
    public Set<ReplicaId> peers() {
        return trust.peers();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new ChorusException("Cache '" + name + "' is closed; build a new one (caches are closed with"
                    + " their replica at shutdown)");
        }
    }

    private Duration watchPeriod() {
        long tenth = stalenessBound.toNanos() / 10;
        return Duration.ofNanos(Math.clamp(
                tenth, Duration.ofMillis(20).toNanos(), Duration.ofMillis(250).toNanos()));
    }

    /**
     * Stops hearing and sending invalidations and tells the other replicas this one left, so they stop
     * expecting its heartbeats; idempotent. Does not close the backplane or the membership.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        scheduler.shutdownNow();
        try {
            // A heartbeat stamped after the goodbye would make every peer wait for this replica again.
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (membershipSubscription != null) {
            membershipSubscription.close();
        }
        if (subscription != null) {
            try {
                backplane.publish(message(CacheWire.LEAVE, List.of()));
            } catch (RuntimeException e) {
                LOG.debug("Cache '{}' could not say goodbye: {}", name, e.toString());
            }
            subscription.close();
        }
        cache.invalidateAll();
    }

    @Override
    public String toString() {
        return "ReplicatedCache{" + name + " on " + backplane.backend() + "}";
    }

    /** A load in progress, which concurrent readers of the same key and generation wait for. */
    private static final class Load<V> {
        final long epoch;
        final long generation;
        final CompletableFuture<@Nullable V> result = new CompletableFuture<>();

        Load(long epoch, long generation) {
            this.epoch = epoch;
            this.generation = generation;
        }
    }

    /** Options of a {@link ReplicatedCache}; {@link #build()} subscribes and starts it. */
    public static final class Builder<K, V> {
        private final Backplane backplane;
        private final String name;
        private final KeyCodec<K> codec;
        private long maximumSize = DEFAULT_MAXIMUM_SIZE;
        private long maximumBytes = ChorusConfig.DEFAULT_CACHE_MAX_BYTES;
        private @Nullable ToIntFunction<? super V> weigher;
        private @Nullable Duration expireAfterWrite;
        private Duration stalenessBound = DEFAULT_STALENESS_BOUND;
        private Duration heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL;
        private StalenessPolicy policy = StalenessPolicy.BYPASS;
        private boolean replication = true;
        private @Nullable Membership membership;
        private LongSupplier nanoClock = System::nanoTime;

        private Builder(Backplane backplane, String name, KeyCodec<K> codec) {
            this.backplane = Objects.requireNonNull(backplane, "backplane");
            this.name = Objects.requireNonNull(name, "name");
            this.codec = Objects.requireNonNull(codec, "codec");
            if (!NAME.matcher(name).matches()) {
                throw new ChorusException("Cache name '" + name + "' is not valid: 1 to 100 letters, digits, '.',"
                        + " '_' or '-', starting with a letter or digit (for example 'users' or 'orders.v2')");
            }
        }

        /** Most entries held; the least recently used go first (default 10,000). */
        public Builder<K, V> maximumSize(long maximumSize) {
            if (maximumSize < 0) {
                throw new ChorusException("Cache '" + name + "': maximumSize must be 0 or more, not " + maximumSize);
            }
            this.maximumSize = maximumSize;
            return this;
        }

        /**
         * Bytes of values held, by {@link #weigher} (default 32 MiB, {@value ChorusConfig#CACHE_MAX_BYTES});
         * the least recently used go first. Applies only with a weigher: Chorus cannot size opaque values.
         */
        public Builder<K, V> maximumBytes(long maximumBytes) {
            if (maximumBytes < 1) {
                throw new ChorusException("Cache '" + name + "': maximumBytes must be positive, not " + maximumBytes);
            }
            this.maximumBytes = maximumBytes;
            return this;
        }

        /**
         * The bytes a value holds (for example its encoded length), which {@link #maximumBytes} bounds. Each
         * entry counts at least maximumBytes / maximumSize, so the count bound holds as well.
         */
        public Builder<K, V> weigher(ToIntFunction<? super V> weigher) {
            this.weigher = Objects.requireNonNull(weigher, "weigher");
            return this;
        }

        /** Drops entries this long after they were loaded or put, whatever else happens (default: never). */
        public Builder<K, V> expireAfterWrite(Duration ttl) {
            this.expireAfterWrite = Checks.positive("expireAfterWrite", ttl);
            return this;
        }

        /**
         * How long a replica may go on answering from its cache without proof that it hears every
         * invalidation (default 5 s); {@link Duration#ZERO} means only while the backplane is HEALTHY and
         * every peer was heard within about two heartbeats. Must be zero or at least two heartbeat intervals.
         */
        public Builder<K, V> stalenessBound(Duration bound) {
            Objects.requireNonNull(bound, "stalenessBound");
            if (bound.isNegative()) {
                throw new ChorusException("Cache '" + name + "': stalenessBound must be zero or positive, not " + bound
                        + " (for example Duration.ofSeconds(5))");
            }
            this.stalenessBound = bound;
            return this;
        }

        /** How often each replica proves its invalidations flow (default 1 s). */
        public Builder<K, V> heartbeatInterval(Duration interval) {
            this.heartbeatInterval = Checks.positive("heartbeatInterval", interval);
            return this;
        }

        /** What to do when invalidations cannot be proved to flow (default {@link StalenessPolicy#BYPASS}). */
        public Builder<K, V> policy(StalenessPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Whether invalidations travel to other replicas (default true). Off suits a single replica only:
         * with a {@link #membership} set, a WARN is logged and health degrades when another replica appears.
         */
        public Builder<K, V> replication(boolean replication) {
            this.replication = replication;
            return this;
        }

        /**
         * Applies the settings that come from the environment ({@code CHORUS_CACHE_REPLICATION}, {@code
         * CHORUS_CACHE_MAX_BYTES}).
         */
        public Builder<K, V> config(ChorusConfig config) {
            this.replication = config.cacheReplication();
            this.maximumBytes = config.cacheMaxBytes();
            return this;
        }

        /**
         * The cluster's membership, the replicas that share the storage behind this cache: each must run this
         * cache on the same backplane, since reads bypass the cache while any listed replica is not heard on its
         * topic (it could change the storage unannounced). Replicas that expire are stopped being waited for at
         * once (and the cache flushed, since their last invalidations may be lost), and, with replication off, a
         * second replica is noticed.
         */
        public Builder<K, V> membership(Membership membership) {
            this.membership = Objects.requireNonNull(membership, "membership");
            return this;
        }

        /** A clock for tests; {@link System#nanoTime()} by default. */
        Builder<K, V> nanoClock(LongSupplier nanoClock) {
            this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
            return this;
        }

        /** Builds, subscribes and starts the cache. */
        public ReplicatedCache<K, V> build() {
            if (!stalenessBound.isZero() && stalenessBound.compareTo(heartbeatInterval.multipliedBy(2)) < 0) {
                throw new ChorusException("Cache '" + name + "': stalenessBound " + stalenessBound
                        + " must be zero or at least twice the heartbeat interval " + heartbeatInterval
                        + " (raise the bound or lower heartbeatInterval)");
            }
            return new ReplicatedCache<>(this);
        }
    }
}
