package dev.chorus.registry;

import dev.chorus.ChorusException;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.cluster.CallResult;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.health.Health;
import dev.chorus.health.HealthIndicator;
import dev.chorus.internal.Bytes;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.wire.Envelope;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Definitions stored once, materialised on every replica as a local resource: a webhook sender per
 * destination, a producer per topic.
 *
 * <p>A change is saved in the {@link DefinitionStore} and announced on {@code chorus.registry.<name>}; an
 * announcement only says which id changed, and each replica reads that id from the store, so the store
 * stays the single truth. Every replica also reconciles against the whole store at start, after a "messages
 * may have been missed" signal and periodically (default 60 s), so a missed create or delete heals by
 * itself. A definition whose resource fails to build is reported with its error on that replica.
 *
 * <p>All changes to this replica's resources run one at a time on one thread, so a resource is never
 * built twice for one version nor closed while being replaced.
 *
 * @param <D> the definition type
 * @param <R> the resource type
 */
public final class ReplicatedRegistry<D, R> implements HealthIndicator, AutoCloseable {

    /** Default interval of the full reconciliation against the store. */
    public static final Duration DEFAULT_RECONCILE_INTERVAL = Duration.ofSeconds(60);
    /** Prefix of a registry's topic; its name follows. */
    public static final String TOPIC_PREFIX = "chorus.registry.";

    private static final Logger LOG = LoggerFactory.getLogger(ReplicatedRegistry.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
    private static final long DELETED = -1;

    private final Backplane backplane;
    private final String name;
    private final String topic;
    private final DefinitionStore store;
    private final DefinitionCodec<D> codec;
    private final ResourceFactory<D, R> factory;
    private final @Nullable ClusterCalls calls;
    private final Map<String, Entry<D, R>> entries = new ConcurrentHashMap<>();
    private final ExecutorService serial;
    private final ScheduledExecutorService timer;
    private final Subscription subscription;
    private final FailureLog storeLog = new FailureLog(LOG);
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile @Nullable String storeProblem;
    private final AtomicBoolean retryScheduled = new AtomicBoolean();
    private final LongAdder reconciles = new LongAdder();
    private final LongAdder healedByReconcile = new LongAdder();

    /** One definition's state on this replica. */
    private record Entry<D, R>(
            long version,
            @Nullable D definition,
            @Nullable R resource,
            @Nullable String error) {}

    private ReplicatedRegistry(Builder<D, R> b) {
        this.backplane = b.backplane;
        this.name = b.name;
        this.topic = TOPIC_PREFIX + b.name;
        this.store = b.store;
        this.codec = b.codec;
        this.factory = b.factory;
        this.calls = b.calls;
        this.serial = Executors.newSingleThreadExecutor(
                Thread.ofVirtual().name("chorus-registry-" + name).factory());
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("chorus-registry-timer").factory());
        this.subscription = backplane.subscribe(topic, new Listener());
        if (calls != null) {
            calls.serve("registry." + name + ".status", request -> encode(status()));
        }
        // The first reconciliation runs before build() returns: a started registry holds every definition.
        onSerial(() -> reconcile("start")).join();
        long every = b.reconcileEvery.toNanos();
        timer.scheduleWithFixedDelay(
                () -> onSerial(() -> reconcile("periodic check")), every, every, TimeUnit.NANOSECONDS);
    }

    /**
     * Starts building registry {@code name}, whose definitions live in {@code store}, are encoded by {@code
     * codec} and become resources through {@code factory}.
     */
    public static <D, R> Builder<D, R> builder(
            Backplane backplane,
            String name,
            DefinitionStore store,
            DefinitionCodec<D> codec,
            ResourceFactory<D, R> factory) {
        return new Builder<>(backplane, name, store, codec, factory);
    }

    /** The registry's name, the same on every replica. */
    public String name() {
        return name;
    }

    // ---- changes ----

    /**
     * Saves {@code definition} under {@code id} and announces it; this replica's resource is rebuilt before
     * the method returns, every other replica's shortly after. Not to be called from a {@link
     * ResourceFactory} or a resource's {@code close}: those run on the thread this waits for.
     *
     * @throws ChorusException when the store cannot save it
     */
    public void put(String id, D definition) {
        checkId(id);
        Objects.requireNonNull(definition, "definition");
        checkOpen();
        StoredDefinition stored = store.save(name, id, codec.encode(definition));
        onSerial(() -> apply(id, Optional.of(stored), "saved here")).join();
        announce(id, stored.version());
    }

    /**
     * Deletes definition {@code id} and announces it; this replica's resource is closed before the method
     * returns. False when there was no such definition.
     */
    public boolean delete(String id) {
        checkId(id);
        checkOpen();
        boolean existed = store.delete(name, id);
        onSerial(() -> apply(id, Optional.empty(), "deleted here")).join();
        announce(id, DELETED);
        return existed;
    }

    private void announce(String id, long version) {
        try {
            backplane.publish(Message.of(topic, Bytes.write(out -> {
                out.writeUTF(id);
                out.writeLong(version);
            })));
        } catch (RuntimeException e) {
            // The others catch up at their next reconciliation.
            LOG.warn(
                    "Registry '{}' could not announce the change of '{}' ({}); other replicas pick it up at their"
                            + " next reconciliation",
                    name,
                    id,
                    e.toString());
        }
    }

    // ---- reads ----

    /** This replica's resource for {@code id}, if its definition exists and built. */
    public Optional<R> resource(String id) {
        Entry<D, R> entry = entries.get(id);
        return entry == null ? Optional.empty() : Optional.ofNullable(entry.resource());
    }

    /** The definition of {@code id} as this replica last applied it. */
    public Optional<D> definition(String id) {
        Entry<D, R> entry = entries.get(id);
        return entry == null ? Optional.empty() : Optional.ofNullable(entry.definition());
    }

    /** The ids this replica knows, sorted. */
    public List<String> ids() {
        return entries.keySet().stream().sorted().toList();
    }

    /** This replica's status of every resource, sorted by id. */
    public List<ResourceStatus> status() {
        List<ResourceStatus> list = new ArrayList<>();
        for (Map.Entry<String, Entry<D, R>> e : entries.entrySet()) {
            list.add(status(e.getKey(), e.getValue()));
        }
        list.sort(Comparator.comparing(ResourceStatus::id));
        return list;
    }

    /** This replica's status of one resource. */
    public Optional<ResourceStatus> status(String id) {
        Entry<D, R> entry = entries.get(id);
        return entry == null ? Optional.empty() : Optional.of(status(id, entry));
    }

    private ResourceStatus status(String id, Entry<D, R> entry) {
        Map<String, Long> counters = Map.of();
        String lastError = null;
        if (entry.resource() instanceof ResourceStatusSource source) {
            try {
                counters = source.counters();
                lastError = source.lastError();
            } catch (RuntimeException e) {
                lastError = "status unavailable: " + FailureLog.describe(e);
            }
        }
        return new ResourceStatus(id, entry.version(), entry.resource() != null, entry.error(), counters, lastError);
    }

    /**
     * Every live replica's status of this registry's resources, asked over the backplane; replicas that did
     * not answer within {@code timeout} are listed with the reason. Needs {@link Builder#clusterCalls}.
     */
    public CompletableFuture<List<ReplicaStatus>> clusterStatus(Duration timeout) {
        ClusterCalls c = calls;
        if (c == null) {
            throw new ChorusException("Registry '" + name + "' was built without clusterCalls(...), so it cannot ask"
                    + " other replicas; use status() for this replica's view");
        }
        return c.askAll("registry." + name + ".status", new byte[0], timeout).thenApply(results -> {
            List<ReplicaStatus> list = new ArrayList<>();
            for (CallResult r : results) {
                if (r.ok()) {
                    try {
                        list.add(new ReplicaStatus(r.replica(), true, null, decode(r.reply())));
                    } catch (IOException e) {
                        list.add(new ReplicaStatus(
                                r.replica(), true, "unreadable answer: " + e.getMessage(), List.of()));
                    }
                } else {
                    list.add(new ReplicaStatus(r.replica(), r.answered(), r.error(), List.of()));
                }
            }
            return list;
        });
    }

    /** Counters: full reconciliations run, and changes they found that announcements had missed. */
    public Map<String, Long> stats() {
        return Map.of("reconciles", reconciles.sum(), "healedByReconcile", healedByReconcile.sum());
    }

    // ---- applying ----

    private CompletableFuture<Void> onSerial(Runnable task) {
        if (closed.get()) {
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.runAsync(task, serial).exceptionally(e -> {
            LOG.warn("Registry '{}' task failed", name, e);
            return null;
        });
    }

    /** Brings {@code id} to the stored state; true if anything changed. Runs on the serial thread. */
    private boolean apply(String id, Optional<StoredDefinition> stored, String why) {
        Entry<D, R> current = entries.get(id);
        if (stored.isEmpty()) {
            if (current == null) {
                return false;
            }
            entries.remove(id);
            closeResource(id, current.resource());
            LOG.info("Registry '{}': '{}' removed ({})", name, id, why);
            return true;
        }
        StoredDefinition definition = stored.get();
        // The store is the truth: whatever it holds now is applied, even a version below ours (which only a
        // store restored from a backup could produce).
        if (current != null && current.version() == definition.version()) {
            return false;
        }
        D decoded;
        try {
            decoded = codec.decode(definition.body());
        } catch (RuntimeException e) {
            replace(
                    id,
                    current,
                    new Entry<>(definition.version(), null, null, "unreadable definition: " + e.getMessage()));
            return true;
        }
        R resource;
        try {
            resource = factory.create(id, decoded);
        } catch (Exception e) {
            String error = FailureLog.describe(e);
            LOG.warn(
                    "Registry '{}': resource '{}' (version {}) could not be built on this replica: {}",
                    name,
                    id,
                    definition.version(),
                    error);
            replace(id, current, new Entry<>(definition.version(), decoded, null, error));
            return true;
        }
        replace(id, current, new Entry<>(definition.version(), decoded, resource, null));
        LOG.info("Registry '{}': '{}' built at version {} ({})", name, id, definition.version(), why);
        return true;
    }

    private void replace(String id, @Nullable Entry<D, R> current, Entry<D, R> next) {
        entries.put(id, next);
        if (current != null) {
            closeResource(id, current.resource());
        }
    }

    private void closeResource(String id, @Nullable R resource) {
        if (resource instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                LOG.warn("Registry '{}': closing resource '{}' failed: {}", name, id, e.toString());
            }
        }
    }

    /** Schedules one reconciliation after a store failure; failures meanwhile do not add more. */
    private void retrySoon(long seconds) {
        if (retryScheduled.compareAndSet(false, true) && !closed.get()) {
            timer.schedule(
                    () -> {
                        retryScheduled.set(false);
                        onSerial(() -> reconcile("retry after a store failure"));
                    },
                    seconds,
                    TimeUnit.SECONDS);
        }
    }

    /** Applies the whole store. Runs on the serial thread. */
    private void reconcile(String why) {
        List<StoredDefinition> all;
        try {
            all = store.loadAll(name);
        } catch (RuntimeException e) {
            storeProblem = "cannot read the definition store: " + FailureLog.describe(e);
            storeLog.failure("Registry '" + name + "' " + storeProblem + "; retrying in 5 s", null);
            retrySoon(5);
            return;
        }
        reconciles.increment();
        if (storeProblem != null) {
            storeProblem = null;
            storeLog.recovered("Registry '" + name + "' reads its definition store again");
        }
        Set<String> seen = new HashSet<>();
        int changed = 0;
        for (StoredDefinition definition : all) {
            seen.add(definition.id());
            if (apply(definition.id(), Optional.of(definition), why)) {
                changed++;
            }
        }
        for (String id : new ArrayList<>(entries.keySet())) {
            if (!seen.contains(id) && apply(id, Optional.empty(), why)) {
                changed++;
            }
        }
        if (changed > 0 && !why.equals("start")) {
            healedByReconcile.add(changed);
            LOG.info(
                    "Registry '{}': reconciliation ({}) applied {} change(s) that announcements had not",
                    name,
                    why,
                    changed);
        }
    }

    /** Announcements of changes, and loss signals. */
    private final class Listener implements Subscriber {
        @Override
        public void onMessage(Envelope envelope) {
            if (envelope.isFrom(backplane.replica())) {
                return; // applied when made
            }
            String id;
            try (DataInputStream in = Bytes.read(envelope.payload())) {
                id = in.readUTF();
            } catch (IOException e) {
                onSerial(() -> reconcile("an unreadable announcement"));
                return;
            }
            onSerial(() -> {
                try {
                    apply(
                            id,
                            store.load(name, id),
                            "announced by " + envelope.origin().shortForm());
                } catch (RuntimeException e) {
                    storeLog.failure(
                            "Registry '" + name + "' could not read '" + id + "' from its store ("
                                    + FailureLog.describe(e) + "); a reconciliation will retry",
                            null);
                    retrySoon(1);
                }
            });
        }

        @Override
        public void onMissed(Missed missed) {
            onSerial(() -> reconcile("announcements may have been missed: " + missed.cause()));
        }
    }

    // ---- health and lifecycle ----

    /** HEALTHY when every definition built and the store answers; DEGRADED naming what failed. */
    @Override
    public Health health() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("registry", name);
        details.put("definitions", entries.size());
        Map<String, String> failed = new HashMap<>();
        entries.forEach((id, e) -> {
            if (e.error() != null) {
                failed.put(id, e.error());
            }
        });
        details.put("failed", failed.size());
        if (closed.get()) {
            return new Health(Health.Status.DOWN, "closed", details);
        }
        String problem = storeProblem;
        if (problem != null) {
            return new Health(Health.Status.DEGRADED, problem, details);
        }
        if (!failed.isEmpty()) {
            return new Health(
                    Health.Status.DEGRADED,
                    failed.size() + " of " + entries.size() + " resources failed to build on this replica: " + failed,
                    details);
        }
        return new Health(Health.Status.HEALTHY, "ok", details);
    }

    /** Stops listening and closes every resource on this replica; the definitions stay in the store. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        subscription.close();
        if (calls != null) {
            calls.unserve("registry." + name + ".status");
        }
        timer.shutdownNow();
        serial.shutdown();
        try {
            serial.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        entries.forEach((id, entry) -> closeResource(id, entry.resource()));
        entries.clear();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new ChorusException("Registry '" + name + "' is closed; build a new one to change definitions");
        }
    }

    private static void checkId(String id) {
        Objects.requireNonNull(id, "id");
        if (id.isEmpty() || id.length() > 200 || id.chars().anyMatch(Character::isISOControl)) {
            throw new ChorusException(
                    "Definition id '" + id + "' is not valid: 1 to 200 characters without control characters"
                            + " (for example 'webhook-7' or a UUID)");
        }
    }

    // ---- encoding ----

    private static byte[] encode(List<ResourceStatus> statuses) {
        return Bytes.write(out -> {
            out.writeInt(statuses.size());
            for (ResourceStatus s : statuses) {
                out.writeUTF(s.id());
                out.writeLong(s.version());
                out.writeBoolean(s.built());
                writeNullable(out, s.buildError());
                out.writeInt(s.counters().size());
                for (Map.Entry<String, Long> c : s.counters().entrySet()) {
                    out.writeUTF(c.getKey());
                    out.writeLong(c.getValue());
                }
                writeNullable(out, s.lastError());
            }
        });
    }

    private static List<ResourceStatus> decode(byte[] bytes) throws IOException {
        try (DataInputStream in = Bytes.read(bytes)) {
            // Each status takes at least 17 bytes and each counter 10: a count that cannot fit is refused
            // before a list is sized from it.
            int count = Bytes.readCount(in, 17);
            List<ResourceStatus> list = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                String id = in.readUTF();
                long version = in.readLong();
                boolean built = in.readBoolean();
                String buildError = readNullable(in);
                int counters = Bytes.readCount(in, 10);
                Map<String, Long> map = new LinkedHashMap<>();
                for (int c = 0; c < counters; c++) {
                    map.put(in.readUTF(), in.readLong());
                }
                list.add(new ResourceStatus(id, version, built, buildError, map, readNullable(in)));
            }
            return list;
        }
    }

    private static void writeNullable(DataOutputStream out, @Nullable String value) throws IOException {
        out.writeBoolean(value != null);
        if (value != null) {
            out.writeUTF(value.length() > 2000 ? value.substring(0, 2000) : value);
        }
    }

    private static @Nullable String readNullable(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }

    /** Options of a {@link ReplicatedRegistry}; {@link #build()} subscribes and reconciles once. */
    public static final class Builder<D, R> {
        private final Backplane backplane;
        private final String name;
        private final DefinitionStore store;
        private final DefinitionCodec<D> codec;
        private final ResourceFactory<D, R> factory;
        private Duration reconcileEvery = DEFAULT_RECONCILE_INTERVAL;
        private @Nullable ClusterCalls calls;

        private Builder(
                Backplane backplane,
                String name,
                DefinitionStore store,
                DefinitionCodec<D> codec,
                ResourceFactory<D, R> factory) {
            this.backplane = Objects.requireNonNull(backplane, "backplane");
            this.name = Objects.requireNonNull(name, "name");
            this.store = Objects.requireNonNull(store, "store");
            this.codec = Objects.requireNonNull(codec, "codec");
            this.factory = Objects.requireNonNull(factory, "factory");
            if (!NAME.matcher(name).matches()) {
                throw new ChorusException("Registry name '" + name + "' is not valid: 1 to 100 letters, digits, '.',"
                        + " '_' or '-' (for example 'destinations')");
            }
        }

        /** How often every replica compares itself with the whole store (default 60 s). */
        public Builder<D, R> reconcileEvery(Duration interval) {
            this.reconcileEvery = Checks.positive("reconcileEvery", interval);
            return this;
        }

        /** Lets {@link ReplicatedRegistry#clusterStatus} ask the other replicas and answer their questions. */
        public Builder<D, R> clusterCalls(ClusterCalls calls) {
            this.calls = Objects.requireNonNull(calls, "calls");
            return this;
        }

        /** Subscribes, builds every stored definition's resource, and starts the periodic reconciliation. */
        public ReplicatedRegistry<D, R> build() {
            return new ReplicatedRegistry<>(this);
        }
    }
}
