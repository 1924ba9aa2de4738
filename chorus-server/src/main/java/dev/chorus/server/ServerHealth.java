package dev.chorus.server;

import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.server.store.ResourceStore;
import dev.chorus.verify.MaxInstances;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica's health, component by component: backplane, membership, storage, keys, instances and cache.
 * It also watches for the misconfiguration a single-replica backplane hides: several replicas sharing storage
 * while each believes it is alone.
 */
public final class ServerHealth {

    /** The membership attribute holding a replica's signing-key fingerprint. */
    public static final String KEY_ATTRIBUTE = "chorus.key";
    /** The membership attribute saying the replica generated its own key. */
    public static final String KEY_GENERATED_ATTRIBUTE = "chorus.key.generated";

    private static final Logger LOG = LoggerFactory.getLogger(ServerHealth.class);
    private static final long RECHECK_SECONDS = 5;

    private final ServerConfig config;
    private final Backplane backplane;
    private final Membership membership;
    private final ResourceStore store;
    private final ReplicatedCache<?, ?> cache;
    private final String keyFingerprint;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean misconfiguredLogged = new AtomicBoolean();
    private final AtomicBoolean keysLogged = new AtomicBoolean();
    private final AtomicBoolean unheardLogged = new AtomicBoolean();

    ServerHealth(
            ServerConfig config,
            Backplane backplane,
            Membership membership,
            ResourceStore store,
            ReplicatedCache<?, ?> cache,
            String keyFingerprint) {
        this.config = config;
        this.backplane = backplane;
        this.membership = membership;
        this.store = store;
        this.cache = cache;
        this.keyFingerprint = keyFingerprint;
    }

    /**
     * Re-checks the cluster-wide findings (a single-replica backplane shared by several replicas, keys that
     * differ) whenever a replica joins or leaves, and every few seconds for what this replica saw before its
     * listener was in place, so their ERROR is logged when it happens, not only when someone asks for health.
     */
    AutoCloseable watch() {
        Subscription changes = membership.onChange(new MembershipListener() {
            @Override
            public void onJoined(Member member) {
                recheck();
            }

            @Override
            public void onLeft(Member member, LeaveReason reason) {
                recheck();
            }
        });
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("chorus-health-watch").factory());
        timer.scheduleWithFixedDelay(this::recheck, 1, RECHECK_SECONDS, TimeUnit.SECONDS);
        return () -> {
            changes.close();
            timer.shutdownNow();
        };
    }

    private void recheck() {
        try {
            backplaneHealth();
            keysHealth();
        } catch (RuntimeException e) {
            LOG.debug("Health re-check failed: {}", e.toString());
        }
    }

    /** Marks start-up complete. */
    void started() {
        started.set(true);
    }

    /** Marks the replica as draining: readiness fails from now on. */
    public void draining() {
        draining.set(true);
    }

    /** Whether start-up has completed. */
    public boolean isStarted() {
        return started.get();
    }

    /** Every component's health, in a stable order. */
    public Map<String, Health> components() {
        Map<String, Health> parts = new LinkedHashMap<>();
        parts.put("backplane", backplaneHealth());
        parts.put("membership", membershipHealth());
        parts.put("storage", store.health());
        parts.put("keys", keysHealth());
        parts.put("instances", instancesHealth());
        parts.put("cache", cache.health());
        return parts;
    }

    /** The live replica count against {@code CHORUS_MAX_INSTANCES}. */
    public MaxInstances instances() {
        return new MaxInstances(membership.liveCount(), config.chorus().maxInstances());
    }

    /**
     * Whether this replica should get traffic: started, not draining, storage answering and the backplane not
     * down. A degraded backplane keeps the replica ready: its reads bypass the cache and stay correct, and
     * taking every replica out when the broker blips would turn a degradation into an outage.
     */
    public Readiness readiness() {
        List<String> reasons = new ArrayList<>();
        if (!started.get()) {
            reasons.add("starting");
        }
        if (draining.get()) {
            reasons.add("draining: shutting down");
        }
        Health storage = store.health();
        if (storage.status() == Health.Status.DOWN) {
            reasons.add("storage down: " + storage.reason());
        }
        Health bp = backplane.health();
        if (bp.status() == Health.Status.DOWN) {
            reasons.add("backplane down: " + bp.reason());
        }
        return new Readiness(reasons.isEmpty(), String.join("; ", reasons));
    }

    /** Whether the replica is ready, and why not. */
    public record Readiness(boolean ready, String reason) {}

    private Health backplaneHealth() {
        Health health = backplane.health().withDetail("backend", backplane.backend());
        int live = membership.liveCount();
        if (config.chorus().backplane() == ChorusConfig.BackplaneKind.INPROCESS && live > 1) {
            String reason = live + " replicas share the same storage, but CHORUS_BACKPLANE=inprocess keeps each"
                    + " one's cache and events to itself: set CHORUS_BACKPLANE=postgres (or redis) on every"
                    + " replica";
            if (misconfiguredLogged.compareAndSet(false, true)) {
                LOG.error("Misconfiguration: {}", reason);
            }
            return new Health(Health.Status.DEGRADED, reason, unheard(health).details());
        }
        if (misconfiguredLogged.compareAndSet(true, false)) {
            LOG.info("Only this replica uses the storage now; the in-process backplane is enough again");
        }
        return unheard(health);
    }

    /**
     * DEGRADED, naming them, while membership lists replicas this backplane does not hear: they share the storage
     * but the cache's heartbeats (and so invalidations and events) do not cross between them, whatever the
     * transport (another channel, a JGroups view that lacks them, a partition, one on {@code inprocess}). A
     * replica that has just joined is unheard until its first heartbeat, so the WARN waits for the bound.
     */
    private Health unheard(Health health) {
        Map<ReplicaId, Duration> unheard = cache.unheard();
        if (unheard.isEmpty()) {
            if (unheardLogged.compareAndSet(true, false)) {
                LOG.info("The {} backplane hears every replica membership lists again", backplane.backend());
            }
            return health;
        }
        Duration bound = ReplicatedCache.DEFAULT_STALENESS_BOUND;
        List<String> names = unheard.keySet().stream().map(ReplicaId::toString).toList();
        boolean joining = unheard.values().stream().allMatch(d -> d.compareTo(bound) < 0);
        String reason = "the " + backplane.backend() + " backplane does not hear " + names + ", which membership"
                + " lists as live (nothing heard for " + longest(unheard)
                + (joining ? "; a replica that has just joined is heard within a heartbeat" : "")
                + "): they share this replica's storage, but cache invalidations and events do not reach them, so"
                + " reads bypass the cache. Give every replica the same CHORUS_BACKPLANE, CHORUS_CHANNEL and"
                + " transport settings (on jgroups, CLUSTER_INITIAL_HOSTS listing every replica)";
        if (!joining && unheardLogged.compareAndSet(false, true)) {
            LOG.warn("Cluster split: {}", reason);
        }
        Map<String, Object> details = new LinkedHashMap<>(health.details());
        details.put("unheard", names);
        if (health.status() != Health.Status.HEALTHY) {
            return new Health(health.status(), health.reason(), details);
        }
        return new Health(Health.Status.DEGRADED, reason, details);
    }

    private static String longest(Map<ReplicaId, Duration> unheard) {
        long millis =
                unheard.values().stream().mapToLong(Duration::toMillis).max().orElse(0);
        return String.format(java.util.Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    private Health membershipHealth() {
        Health health = membership.health();
        List<Map<String, Object>> members = new ArrayList<>();
        for (Member member : membership.members()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", member.id().toString());
            m.put("version", member.version());
            m.put("started", member.started().toString());
            members.add(m);
        }
        return health.withDetail("live", members.size()).withDetail("members", members);
    }

    private Health keysHealth() {
        Map<String, List<String>> byKey = new TreeMap<>();
        List<String> generated = new ArrayList<>();
        for (Member member : membership.members()) {
            String key = Objects.requireNonNullElse(member.attributes().get(KEY_ATTRIBUTE), "unknown");
            byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(member.id().toString());
            if ("true".equals(member.attributes().get(KEY_GENERATED_ATTRIBUTE))) {
                generated.add(member.id().toString());
            }
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("fingerprint", keyFingerprint);
        details.put("replicasByKey", byKey);
        if (byKey.size() > 1) {
            String reason = "replicas sign tokens with " + byKey.size() + " different keys, so a token from one"
                    + " is refused by the others: give every replica the same CHORUS_JWT_PRIVATE_KEY"
                    + (generated.isEmpty() ? "" : " (" + generated + " generated their own)");
            if (keysLogged.compareAndSet(false, true)) {
                LOG.error("Key mismatch: {}", reason);
            }
            return new Health(Health.Status.DEGRADED, reason, details);
        }
        if (keysLogged.compareAndSet(true, false)) {
            LOG.info("Every live replica signs with the same key again");
        }
        return Health.healthy(details);
    }

    private Health instancesHealth() {
        MaxInstances instances = instances();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("live", instances.live());
        OptionalInt max = instances.max();
        details.put("max", max.isPresent() ? max.getAsInt() : "unlimited");
        String warning = instances.warning();
        return warning == null ? Health.healthy(details) : new Health(Health.Status.DEGRADED, warning, details);
    }
}
