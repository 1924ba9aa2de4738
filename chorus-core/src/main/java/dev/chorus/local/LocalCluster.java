package dev.chorus.local;

import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.Backplane;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.leases.Leases;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener.LeaveReason;
import dev.chorus.wire.EnvelopeCodec;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Several replicas in one JVM, each with an in-process backplane, membership and leases that behave like
 * the networked ones: envelopes are encoded, signed and checked; membership sees joins and leaves; leases
 * issue growing fencing tokens.
 *
 * <p>{@link Backplane#inProcess()} is a cluster of one. Tests use the fault controls: {@link #isolate}
 * and {@link #heal} cut a replica off and bring it back (it reports DEGRADED, then the reconnect event),
 * {@link #dropNext} loses envelopes silently on the way to one replica (a sequence gap), {@link #inject}
 * hands a replica arbitrary bytes, and {@link #crash} makes a replica vanish without leaving.
 */
public final class LocalCluster {

    private final String name;
    private final @Nullable Secret secret;
    private final int maxEnvelopeBytes;
    private final Clock clock;
    private final LongSupplier nanoTime;
    private final int subscriptionCapacity;
    private final long subscriptionBytes;
    private final List<InProcessBackplane> backplanes = new CopyOnWriteArrayList<>();
    private final Map<ReplicaId, Boolean> isolated = new ConcurrentHashMap<>();
    private final Map<ReplicaId, AtomicInteger> drops = new ConcurrentHashMap<>();
    private final LocalMembershipHub membership;
    private final LocalLeaseStore leases;

    private LocalCluster(Builder builder) {
        this.name = builder.name;
        this.secret = builder.secret;
        this.maxEnvelopeBytes = builder.maxEnvelopeBytes;
        this.clock = builder.clock;
        this.nanoTime = builder.nanoTime;
        this.subscriptionCapacity = builder.subscriptionCapacity;
        this.subscriptionBytes = builder.subscriptionBytes;
        this.membership = new LocalMembershipHub(clock);
        this.leases = new LocalLeaseStore(clock, nanoTime);
    }

    /** A cluster named {@code name} without a secret. */
    public static LocalCluster create(String name) {
        return builder(name).build();
    }

    /** A builder for a cluster named {@code name}. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** The cluster (channel) name. */
    public String name() {
        return name;
    }

    /** Adds a replica running the current Chorus version with no attributes. */
    public LocalReplica join(ReplicaId replica) {
        return join(replica, ChorusVersion.current(), Map.of());
    }

    /** Adds a replica; its membership announces {@code version} and {@code attributes}. */
    public LocalReplica join(ReplicaId replica, String version, Map<String, String> attributes) {
        return join(replica, version, attributes, secret);
    }

    /**
     * Adds a replica that signs with a different secret (or none): its envelopes are rejected by the others
     * and theirs by it, as on a real transport. For tests of misconfiguration.
     */
    public LocalReplica join(
            ReplicaId replica, String version, Map<String, String> attributes, @Nullable Secret replicaSecret) {
        Objects.requireNonNull(replica, "replica");
        for (InProcessBackplane existing : backplanes) {
            if (existing.replica().equals(replica)) {
                throw new ChorusException("Replica " + replica + " already joined local cluster '" + name + "'");
            }
        }
        EnvelopeCodec codec = EnvelopeCodec.builder(name)
                .secret(replicaSecret)
                .maxBytes(maxEnvelopeBytes)
                .build();
        InProcessBackplane backplane =
                new InProcessBackplane(this, replica, codec, clock, subscriptionCapacity, subscriptionBytes);
        backplanes.add(backplane);
        backplane.start();
        Member member = new Member(replica, version, clock.instant(), clock.instant(), attributes);
        LocalMembership localMembership = new LocalMembership(membership, member);
        membership.join(member);
        return new LocalReplica(replica, backplane, localMembership, new LocalLeases(leases, replica));
    }

    /** Cuts {@code replica} off: nothing reaches it or leaves it until {@link #heal}. */
    public void isolate(ReplicaId replica) {
        isolated.put(replica, Boolean.TRUE);
        backplaneOf(replica).isolated("isolated from the local cluster by a test");
    }

    /** Reconnects an isolated replica; its subscribers are told messages may have been missed. */
    public void heal(ReplicaId replica) {
        isolated.remove(replica);
        backplaneOf(replica).healed();
    }

    /** Silently loses the next {@code count} envelopes on their way to {@code replica}. */
    public void dropNext(ReplicaId replica, int count) {
        drops.computeIfAbsent(replica, r -> new AtomicInteger()).addAndGet(count);
    }

    /** Hands {@code bytes} to {@code replica} as if they came from the transport. */
    public void inject(ReplicaId replica, byte[] bytes) {
        backplaneOf(replica).deliver(bytes.clone());
    }

    /**
     * Makes {@code replica} vanish as if its process were killed: its backplane stops without a word, its
     * membership expires (others see {@link LeaveReason#EXPIRED}) and its leases stay until they expire.
     */
    public void crash(ReplicaId replica) {
        InProcessBackplane backplane = backplaneOf(replica);
        isolated.put(replica, Boolean.TRUE);
        backplanes.remove(backplane);
        membership.leave(replica, LeaveReason.EXPIRED);
        backplane.close();
    }

    /** The backplanes of every replica still in the cluster. */
    public List<Backplane> backplanes() {
        return List.copyOf(backplanes);
    }

    private InProcessBackplane backplaneOf(ReplicaId replica) {
        for (InProcessBackplane backplane : backplanes) {
            if (backplane.replica().equals(replica)) {
                return backplane;
            }
        }
        throw new ChorusException("Replica " + replica + " is not in local cluster '" + name + "'");
    }

    void route(InProcessBackplane sender, dev.chorus.wire.Envelope envelope, byte[] bytes) {
        if (isolated.containsKey(sender.replica())) {
            return;
        }
        for (InProcessBackplane target : backplanes) {
            if (target == sender || isolated.containsKey(target.replica())) {
                continue;
            }
            AtomicInteger drop = drops.get(target.replica());
            if (drop != null && drop.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                continue;
            }
            if (target.envelopeCodec().acceptsEverythingFrom(sender.envelopeCodec())) {
                target.deliver(envelope);
            } else {
                target.deliver(bytes);
            }
        }
    }

    void left(InProcessBackplane backplane) {
        backplanes.remove(backplane);
    }

    /** One replica of a {@link LocalCluster}: its backplane, membership and leases. */
    public static final class LocalReplica implements AutoCloseable {
        private final ReplicaId id;
        private final InProcessBackplane backplane;
        private final LocalMembership membership;
        private final LocalLeases leases;

        LocalReplica(ReplicaId id, InProcessBackplane backplane, LocalMembership membership, LocalLeases leases) {
            this.id = id;
            this.backplane = backplane;
            this.membership = membership;
            this.leases = leases;
        }

        /** This replica's id. */
        public ReplicaId id() {
            return id;
        }

        /** Its backplane. */
        public Backplane backplane() {
            return backplane;
        }

        /** The base class view of its backplane, for tests that read its epoch. */
        public AbstractBackplane backplaneInternals() {
            return backplane;
        }

        /** Its membership. */
        public Membership membership() {
            return membership;
        }

        /** Its leases, in the cluster's shared lease store. */
        public Leases leases() {
            return leases;
        }

        /** Leaves cleanly: membership says goodbye, the backplane closes. Leases stay until released. */
        @Override
        public void close() {
            membership.close();
            leases.close();
            backplane.close();
        }
    }

    /** Builds a {@link LocalCluster}. */
    public static final class Builder {
        private final String name;
        private @Nullable Secret secret;
        private int maxEnvelopeBytes = EnvelopeCodec.DEFAULT_MAX_BYTES;
        private Clock clock = Clock.systemUTC();
        private LongSupplier nanoTime = System::nanoTime;
        private int subscriptionCapacity = AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY;
        private long subscriptionBytes = dev.chorus.ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** Every replica signs with this secret. */
        public Builder secret(@Nullable Secret secret) {
            this.secret = secret;
            return this;
        }

        /** The envelope size limit. */
        public Builder maxEnvelopeBytes(int maxEnvelopeBytes) {
            this.maxEnvelopeBytes = maxEnvelopeBytes;
            return this;
        }

        /** The wall clock for timestamps. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The monotonic clock for lease deadlines, so tests can move time. */
        public Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        /** Envelopes each subscription may have queued before dropping. */
        public Builder subscriptionCapacity(int subscriptionCapacity) {
            this.subscriptionCapacity = subscriptionCapacity;
            return this;
        }

        /** Payload bytes each subscription may have waiting before envelopes are dropped (default 32 MiB). */
        public Builder subscriptionBytes(long subscriptionBytes) {
            this.subscriptionBytes = dev.chorus.internal.Checks.positive("subscriptionBytes", subscriptionBytes);
            return this;
        }

        /** The cluster. */
        public LocalCluster build() {
            EnvelopeCodec.builder(name).maxBytes(maxEnvelopeBytes).build(); // validates name and limit now
            return new LocalCluster(this);
        }
    }
}
