package dev.chorus.jgroups;

import dev.chorus.ChorusConfig;
import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.ChorusException;
import dev.chorus.ChorusVersion;
import dev.chorus.ConfigurationException;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.internal.AbstractBackplane;
import dev.chorus.internal.Checks;
import dev.chorus.internal.FailureLog;
import dev.chorus.internal.Frames;
import dev.chorus.internal.SendQueue;
import dev.chorus.internal.WireSecurity;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jgroups.Address;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.MergeView;
import org.jgroups.Message;
import org.jgroups.Receiver;
import org.jgroups.View;
import org.jgroups.protocols.BaseBundler;
import org.jgroups.protocols.DISCARD;
import org.jgroups.stack.Protocol;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * One JChannel per replica, named after the Chorus channel so that two deployments never join each other.
 *
 *  stack: built by JGroupsStack from the builder's transport, discovery and secret settings.
 *  publish: AbstractBackplane stamps under its lock and hands bytes to transmit(), which only enqueues; the
 *    virtual thread chorus-jgroups-sender drains the queue into frames of many envelopes (Frames) and sends
 *    them in order (JGroups' flow control may block it, never a publisher). JGroups' cost is per message:
 *    headers, sequence numbers, retransmission state and a receive-thread hand-off each, so a busy publisher
 *    sends a few large messages instead of many small ones. A frame stays below FRAG2's fragment size.
 *  health: driven by views. Alone although CLUSTER_INITIAL_HOSTS lists peers -> DEGRADED. A member gone from
 *    the view without a goodbye (JGroups only tells the coordinator it was suspected) -> DEGRADED until the partition merges back (MergeView) or the view stayed stable for
 *    the suspicion grace. A merge is always a reconnect: both sides' subscribers get Missed(RECONNECTED).
 *
 * Past 600 lines because of its public Builder (about 250 lines of documented options); the rest, views,
 * health and the sender loop, shares the channel and view state and stays together.
 */

/**
 * The JGroups backplane: a broker-less peer mesh with reliable, per-sender ordered delivery, view-based
 * membership ({@link #membership()}) and, with a cluster secret, encrypted traffic.
 *
 * <pre>{@code
 * JGroupsBackplane backplane = JGroupsBackplane.from(ChorusConfig.from(System::getenv), ReplicaId.random("a"));
 * Membership membership = backplane.membership();
 * }</pre>
 */
public final class JGroupsBackplane extends AbstractBackplane {

    /**
     * The wire-format version members must share. 1: one envelope per message; 2: frames of envelopes
     * ({@link Frames}) in envelope format {@value EnvelopeCodec#VERSION}.
     */
    public static final int WIRE_VERSION = 2;
    /** Default time without heartbeats before a member is suspected (a killed process is seen sooner). */
    public static final Duration DEFAULT_FAILURE_TIMEOUT = Duration.ofSeconds(10);
    /** Default time DEGRADED lasts after a suspicion when no merge follows. */
    public static final Duration DEFAULT_SUSPICION_GRACE = Duration.ofSeconds(30);
    /** Default number of envelopes that may wait for the sender before publishes fail. */
    public static final int DEFAULT_SEND_QUEUE_CAPACITY = 100_000;

    static final String MEMBER_TOPIC = "_chorus.member";
    /** Frames are cut at this size (below FRAG2's default 60,000-byte fragments) unless one envelope is larger. */
    private static final int MAX_FRAME_BYTES = 56 * 1024;
    /** Envelopes per frame at most, so that a frame's futures complete in reasonable batches. */
    private static final int MAX_FRAME_ENVELOPES = 4_096;

    private static final Logger LOG = LoggerFactory.getLogger(JGroupsBackplane.class);

    private record Outgoing(byte[] bytes, @Nullable CompletableFuture<Void> sent, boolean control) {}

    private final Builder config;
    private final JChannel channel;
    private final @Nullable DISCARD discard;
    private final SendQueue<Outgoing> queue;
    private final CountDownLatch connected = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final FailureLog sendFailures = new FailureLog(LOG);
    private final AtomicLong suspicionEpoch = new AtomicLong();
    private final LongAdder framesSent = new LongAdder();
    private final Object viewLock = new Object();
    private final JGroupsMembership membership;
    private final int expectedPeers;
    private volatile @Nullable View view;
    private volatile @Nullable String lastRefusal;
    private volatile @Nullable String suspicionReason;
    private volatile @Nullable String connectFailure;
    private final Thread sender;
    private final Frames.Visitor frameVisitor = new Frames.Visitor() {
        @Override
        public void envelope(byte[] bytes, int offset, int length) {
            if (isClosed()) {
                whileClosing(bytes, offset, length);
            } else {
                received(bytes, offset, length);
            }
        }

        @Override
        public void malformed(String why) {
            rejected(new DecodeResult.Rejected(
                    Rejection.MALFORMED,
                    "a message on JGroups cluster '" + config.cluster + "' that Chorus did not send: " + why));
        }
    };

    private JGroupsBackplane(Builder b) {
        super(
                "jgroups",
                b.replica,
                EnvelopeCodec.builder(b.cluster)
                        .secret(b.secret)
                        .maxBytes(b.maxEnvelopeBytes)
                        .build(),
                b.clock,
                AbstractBackplane.DEFAULT_SUBSCRIPTION_CAPACITY,
                b.receiveQueueBytes,
                b.replayWindow);
        this.config = b;
        this.queue = new SendQueue<>(b.sendQueueCapacity, b.sendQueueBytes, o -> o.bytes().length);
        this.expectedPeers = b.discovery == Discovery.TCP ? countOtherPeers(b) : 0;
        List<Protocol> stack = JGroupsStack.protocols(b, this::noteRefusal);
        this.discard = JGroupsStack.discard(stack);
        try {
            this.channel = new JChannel(stack);
        } catch (Exception e) {
            throw new ChorusException(
                    "Could not build the JGroups stack for channel '" + b.cluster + "': " + FailureLog.describe(e), e);
        }
        if (channel.getProtocolStack().getTransport().getBundler() instanceof BaseBundler bundler) {
            // JGroups drops a message when the bundler's queue is full and leaves it to retransmission, which
            // for the last messages of a burst waits for the next resend round: seconds of delay under load
            // (measured: p99 5.9 s for bare JChannels at max rate). Blocking our own sender thread instead
            // costs no publisher anything, and keeps delivery prompt.
            bundler.dropWhenFull(false);
        }
        channel.addAddressGenerator(() -> new org.jgroups.util.UUID(
                b.replica.uuid().getMostSignificantBits(), b.replica.uuid().getLeastSignificantBits()));
        channel.name(b.replica.toString());
        channel.setDiscardOwnMessages(true);
        this.membership = new JGroupsMembership(this, b.replica, b.version, b.clock.instant(), b.attributes);
        channel.setReceiver(new Receiver() {
            @Override
            public void receive(Message msg) {
                if (!msg.hasArray()) {
                    return;
                }
                Frames.unpack(msg.getArray(), msg.getOffset(), msg.getLength(), frameVisitor);
            }

            @Override
            public void viewAccepted(View newView) {
                onView(newView);
            }
        });
        if (b.secret == null) {
            LOG.warn(
                    "JGroups mesh on channel '{}' is unauthenticated and unencrypted (CHORUS_ALLOW_UNSIGNED=true): anyone who can reach port {}"
                            + " can join it, read every message and send its own. Set CHORUS_CLUSTER_SECRET (the same"
                            + " on every replica) to authenticate members and encrypt traffic",
                    b.cluster,
                    b.port);
        }
        LOG.info("JGroups has no shared store, so this backplane provides no leases: session ownership needs"
                + " leases from PostgreSQL (DATABASE_URL) or Redis (REDIS_URL) alongside it (docs/jgroups.md)");
        LOG.info(
                "JGroups backplane starting for replica {} on channel '{}': {} discovery, {} transport, bind {}:{}{}",
                b.replica,
                b.cluster,
                b.discovery,
                b.discovery == Discovery.MULTICAST ? "UDP" : "TCP",
                b.bindAddress.getHostAddress(),
                b.port,
                b.discovery == Discovery.TCP ? ", peers " + b.initialHosts : "");
        this.sender = Thread.ofVirtual().name("chorus-jgroups-sender").start(this::sendLoop);
        Thread.ofVirtual().name("chorus-jgroups-connect").start(this::connect);
    }

    /** A builder for a backplane of {@code replica} on the JGroups cluster named {@code cluster}. */
    public static Builder builder(String cluster, ReplicaId replica) {
        return new Builder(cluster, replica);
    }

    /**
     * A backplane configured from {@code config}: discovery, initial hosts or DNS query, port, secret, size
     * limit; the cluster name is the channel. Binds to the first site-local address, or loopback.
     */
    public static JGroupsBackplane from(ChorusConfig config, ReplicaId replica) {
        Builder builder = builder(config.channel(), replica);
        if (config.bindAddress().isPresent()) {
            String address = config.bindAddress().get();
            try {
                builder.bindAddress(InetAddress.getByName(address));
            } catch (UnknownHostException e) {
                throw new ConfigurationException(
                        ChorusConfig.BIND_ADDRESS,
                        ChorusConfig.BIND_ADDRESS + "='" + address + "' is not an address of this host (for example "
                                + ChorusConfig.BIND_ADDRESS + "=10.0.0.5)");
            }
        }
        return builder.discovery(config.discovery())
                .initialHosts(config.initialHosts())
                .dnsQuery(config.dnsQuery().orElse(null))
                .port(config.clusterPort())
                .secret(config.clusterSecret().orElse(null))
                .allowUnsigned(config.allowUnsigned())
                .replayWindow(config.replayWindow())
                .maxEnvelopeBytes(config.maxEnvelopeBytes())
                .sendQueueBytes(config.sendQueueBytes())
                .receiveQueueBytes(config.receiveQueueBytes())
                .build();
    }

    /** Membership from this backplane's views: one per backplane, closed with it. */
    public JGroupsMembership membership() {
        return membership;
    }

    /** The current JGroups view, or null before the first one. */
    public @Nullable View view() {
        return view;
    }

    /** The address and port this member listens on. */
    public InetSocketAddress bindAddress() {
        return new InetSocketAddress(config.bindAddress, config.port);
    }

    /** The test-only DISCARD protocol (built with {@link Builder#faultInjection}), for cutting this member off. */
    public DISCARD discard() {
        if (discard == null) {
            throw new IllegalStateException("this backplane was built without faultInjection(true)");
        }
        return discard;
    }

    // ---- peers ----

    private static int countOtherPeers(Builder b) {
        int others = 0;
        for (HostPort h : b.initialHosts) {
            boolean self = h.port() == b.port && isLocal(h.host(), b.bindAddress);
            if (!self) {
                others++;
            }
        }
        return others;
    }

    private static boolean isLocal(String host, InetAddress bind) {
        try {
            InetAddress address = InetAddress.getByName(host);
            return address.equals(bind) || (address.isLoopbackAddress() && bind.isLoopbackAddress());
        } catch (UnknownHostException e) {
            return false;
        }
    }

    // ---- connect ----

    private void connect() {
        try {
            channel.connect(config.cluster);
            connected.countDown();
        } catch (Exception e) {
            if (isClosed()) {
                return;
            }
            String why = "could not join JGroups cluster '" + config.cluster + "' on "
                    + config.bindAddress.getHostAddress() + ":" + config.port + ": " + FailureLog.describe(e)
                    + (e instanceof SecurityException
                            ? " (refused by the coordinator)"
                            : "; is the port free and the bind address one of this host's?");
            connectFailure = why;
            connectionLost(why, e);
        }
    }

    // ---- views and health ----

    private void onView(View newView) {
        synchronized (viewLock) {
            View old = view;
            view = newView;
            Set<Address> removed = new HashSet<>(old == null ? List.of() : old.getMembers());
            removed.removeAll(newView.getMembers());
            // JGroups tells only the coordinator about suspicions; every member knows who said goodbye.
            Set<Address> excluded = new HashSet<>();
            for (Address a : removed) {
                if (!membership.saidGoodbye(a)) {
                    excluded.add(a);
                }
            }
            LOG.debug("JGroups view on '{}': {}", config.cluster, newView);
            if (newView instanceof MergeView merge) {
                suspicionReason = null;
                suspicionEpoch.incrementAndGet();
                String how = "partitions merged into view " + newView.getViewId() + " (" + newView.size()
                        + " members, subgroups " + merge.getSubgroups().size() + ")";
                if (isConnected()) {
                    // Healthy by now (the suspicion grace passed): a merge still means messages were missed.
                    connectionLost("this member was in a partition that merged back: " + how, null);
                }
                evaluate(how);
            } else if (!excluded.isEmpty()) {
                String reason = "member(s) " + excluded + " left the view without saying goodbye: suspected of a"
                        + " crash, hang or network partition; messages between the parts may be lost until they"
                        + " merge back";
                suspicionReason = reason;
                long epoch = suspicionEpoch.incrementAndGet();
                connectionLost(reason, null);
                Thread.ofVirtual().name("chorus-jgroups-grace").start(() -> endGrace(epoch));
            } else {
                evaluate("in view " + newView.getViewId() + " with " + newView.size() + " member(s)");
            }
            membership.onView(newView, removed, excluded);
        }
    }

    private void endGrace(long epoch) {
        try {
            if (stopped.await(config.suspicionGrace.toMillis(), TimeUnit.MILLISECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        synchronized (viewLock) {
            if (suspicionEpoch.get() == epoch && suspicionReason != null) {
                suspicionReason = null;
                View v = view;
                evaluate("no merge within " + config.suspicionGrace.toSeconds() + " s of the suspicion; the excluded"
                        + " members are presumed gone (view " + (v == null ? "none" : v.getViewId()) + ")");
            }
        }
    }

    /** Under viewLock: HEALTHY unless alone with peers configured or a suspicion is in its grace period. */
    private void evaluate(String how) {
        View v = view;
        if (v == null) {
            return;
        }
        if (v.size() == 1 && expectedPeers > 0) {
            String refusal = lastRefusal;
            connectionLost(
                    "alone in the view although CLUSTER_INITIAL_HOSTS lists " + expectedPeers + " other peer(s) "
                            + config.initialHosts + ": they are down, unreachable, or refused"
                            + (refusal == null ? "" : " (last refusal: " + refusal + ")"),
                    null);
            return;
        }
        String suspicion = suspicionReason;
        if (suspicion != null) {
            connectionLost(suspicion, null);
            return;
        }
        connectionRestored(how);
    }

    void noteRefusal(String line) {
        lastRefusal = line;
    }

    @Override
    protected void addHealthDetails(Map<String, Object> details) {
        View v = view;
        details.put("discovery", config.discovery.name());
        details.put("encrypted", config.secret != null);
        details.put("view", v == null ? "none" : v.toString());
        details.put("members", v == null ? 0 : v.size());
        details.put("sendQueue", queue.size());
        details.put("sendQueueBytes", queue.bytes());
        String refusal = lastRefusal;
        if (refusal != null) {
            details.put("lastRefusal", refusal);
        }
        String failure = connectFailure;
        if (failure != null) {
            details.put("connectFailure", failure);
        }
    }

    // ---- sending ----

    @Override
    protected CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes) {
        CompletableFuture<Void> sent = new CompletableFuture<>();
        if (!queue.offer(new Outgoing(bytes, sent, false))) {
            sent.completeExceptionally(new PublishFailedException(
                    "The JGroups send queue is full (" + queue.refusal(bytes.length) + "): the other members"
                            + " receive slower than this replica publishes. The message reached this replica's"
                            + " subscribers; other replicas will see the gap and repair.",
                    null));
        }
        return sent;
    }

    /** Sends a control envelope (membership hello or goodbye) in order with published messages. */
    void sendControl(byte[] payload) {
        // No isClosed() check: the goodbye and its acknowledgements travel while the backplane closes.
        byte[] bytes = encodeTransportEnvelope(Envelope.Kind.CONTROL, MEMBER_TOPIC, payload);
        if (!queue.offer(new Outgoing(bytes, null, true))) {
            LOG.debug("JGroups send queue full; membership announcement dropped (it is repeated on the next view)");
        }
    }

    @Override
    protected void onControl(Envelope envelope) {
        if (MEMBER_TOPIC.equals(envelope.topic())) {
            membership.onAnnouncement(envelope.origin(), envelope.payload());
        }
    }

    /** While closing, the base class drops what arrives; the acknowledgements of our goodbye still count. */
    private void whileClosing(byte[] bytes, int offset, int length) {
        if (codec().decode(bytes, offset, length) instanceof DecodeResult.Decoded decoded
                && decoded.envelope().kind() == Envelope.Kind.CONTROL
                && MEMBER_TOPIC.equals(decoded.envelope().topic())) {
            membership.onAnnouncement(
                    decoded.envelope().origin(), decoded.envelope().payload());
        }
    }

    private void sendLoop() {
        try {
            while (!connected.await(200, TimeUnit.MILLISECONDS)) {
                if (stopped.getCount() == 0) {
                    failRemaining(new PublishFailedException("the JGroups backplane closed before it connected", null));
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        String recovered = "JGroups sender on '" + config.cluster + "' sends again";
        List<Outgoing> frame = new ArrayList<>();
        while (true) {
            Outgoing first;
            try {
                first = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (first == null) {
                if (stopped.getCount() == 0) {
                    break;
                }
                continue;
            }
            // Take what is queued in one go: one wake-up and one JGroups message per frame, not per envelope.
            // A control message travels alone. This thread is the queue's only taker, so a peeked one stays.
            frame.add(first);
            int size = Frames.HEADER_BYTES + Frames.entryBytes(first.bytes());
            Outgoing next;
            while (!first.control()
                    && frame.size() < MAX_FRAME_ENVELOPES
                    && (next = queue.peek()) != null
                    && !next.control()
                    && size + Frames.entryBytes(next.bytes()) <= MAX_FRAME_BYTES) {
                frame.add(queue.poll());
                size += Frames.entryBytes(next.bytes());
            }
            send(frame, recovered);
            frame.clear();
        }
        failRemaining(new PublishFailedException("the JGroups backplane closed", null));
    }

    private void send(List<Outgoing> frame, String recovered) {
        try {
            List<byte[]> envelopes = new ArrayList<>(frame.size());
            for (Outgoing outgoing : frame) {
                envelopes.add(outgoing.bytes());
            }
            Message msg = new BytesMessage(null, Frames.pack(envelopes)).setFlag(Message.TransientFlag.DONT_LOOPBACK);
            if (frame.get(0).control()) {
                // Not bundled: a goodbye must be on the wire before the leave request that follows it.
                msg.setFlag(Message.Flag.DONT_BUNDLE);
            }
            channel.send(msg);
            framesSent.increment();
            frame.forEach(o -> complete(o, null));
            sendFailures.recovered(recovered);
        } catch (Exception e) {
            frame.forEach(o -> complete(o, e));
            sendFailures.failure("JGroups sender on '" + config.cluster + "' could not send", e);
        }
    }

    private void failRemaining(Exception e) {
        List<Outgoing> rest = new ArrayList<>();
        queue.drainTo(rest);
        rest.forEach(o -> complete(o, e));
    }

    private static void complete(Outgoing outgoing, @Nullable Throwable failure) {
        CompletableFuture<Void> sent = outgoing.sent();
        if (sent == null) {
            return;
        }
        if (failure == null) {
            sent.complete(null);
        } else if (failure instanceof PublishFailedException p) {
            sent.completeExceptionally(p);
        } else {
            sent.completeExceptionally(new PublishFailedException(
                    "Could not send to the other JGroups members: " + FailureLog.describe(failure)
                            + ". The message reached this replica's subscribers; other replicas will see the gap and"
                            + " repair.",
                    failure));
        }
    }

    /** Sends {@code envelope} alone in a frame to every other member, bypassing Chorus: tests inject foreign bytes. */
    void sendRawEnvelope(byte[] envelope) throws Exception {
        sendRawBytes(Frames.pack(List.of(envelope)));
    }

    /** Sends {@code bytes} to every other member as they are, not even framed: tests inject garbage. */
    void sendRawBytes(byte[] bytes) throws Exception {
        channel.send(new BytesMessage(null, bytes).setFlag(Message.TransientFlag.DONT_LOOPBACK));
    }

    /** JGroups messages this replica's sender has sent (frames, each of one or more envelopes). */
    long framesSent() {
        return framesSent.sum();
    }

    // ---- close ----

    @Override
    protected void doClose() {
        try {
            membership.leave().get(2, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.debug("Not every member acknowledged the goodbye within 2 s; closing anyway");
        } catch (java.util.concurrent.ExecutionException e) {
            LOG.debug("Goodbye failed; closing anyway", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopped.countDown();
        try {
            // Let queued envelopes (the goodbye among them) go out before the channel does.
            sender.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        membership.closed();
        channel.close();
    }

    /** Cluster, discovery, addresses, timing and secret for one {@link JGroupsBackplane}. */
    public static final class Builder {
        // Package-private: JGroupsStack reads the transport, discovery and secret settings.
        final String cluster;
        final ReplicaId replica;
        Discovery discovery = Discovery.MULTICAST;
        List<HostPort> initialHosts = List.of();

        @Nullable
        String dnsQuery;

        @Nullable
        String dnsAddress;

        InetAddress bindAddress = defaultBindAddress();
        int port = ChorusConfig.DEFAULT_CLUSTER_PORT;
        int portRange = 0;
        int multicastPort = 45588;

        @Nullable
        InetAddress multicastAddress;

        @Nullable
        Secret secret;

        boolean allowUnsigned;
        Duration replayWindow = ChorusConfig.DEFAULT_REPLAY_WINDOW;
        int maxEnvelopeBytes = ChorusConfig.DEFAULT_MAX_ENVELOPE_BYTES;
        Clock clock = Clock.systemUTC();
        Duration failureTimeout = DEFAULT_FAILURE_TIMEOUT;
        Duration suspicionGrace = DEFAULT_SUSPICION_GRACE;
        Duration mergeMin = Duration.ofSeconds(10);
        Duration mergeMax = Duration.ofSeconds(30);
        Duration joinTimeout = Duration.ofSeconds(2);
        int sendQueueCapacity = DEFAULT_SEND_QUEUE_CAPACITY;
        long sendQueueBytes = ChorusConfig.DEFAULT_SEND_QUEUE_BYTES;
        long receiveQueueBytes = ChorusConfig.DEFAULT_RECEIVE_QUEUE_BYTES;
        boolean faultInjection;
        int wireVersion = WIRE_VERSION;
        String version = ChorusVersion.current();
        Map<String, String> attributes = Map.of();

        private Builder(String cluster, ReplicaId replica) {
            this.cluster = Objects.requireNonNull(cluster, "cluster");
            this.replica = Objects.requireNonNull(replica, "replica");
        }

        /** How members find each other ({@code CLUSTER_DISCOVERY}); MULTICAST by default. */
        public Builder discovery(Discovery discovery) {
            this.discovery = Objects.requireNonNull(discovery, "discovery");
            return this;
        }

        /** The peers for TCP discovery, this member included ({@code CLUSTER_INITIAL_HOSTS}). */
        public Builder initialHosts(List<HostPort> hosts) {
            this.initialHosts = List.copyOf(hosts);
            return this;
        }

        /** The DNS name for DNS discovery ({@code CLUSTER_DNS_QUERY}): A records, or SRV when it starts with _. */
        public Builder dnsQuery(@Nullable String query) {
            this.dnsQuery = query;
            return this;
        }

        /** The DNS server to ask, {@code host:port}; the system resolver when unset. */
        public Builder dnsServer(@Nullable String address) {
            this.dnsAddress = address;
            return this;
        }

        /** The address to listen on; the first site-local address, or loopback, by default. */
        public Builder bindAddress(InetAddress address) {
            this.bindAddress = Objects.requireNonNull(address, "address");
            return this;
        }

        /** The port to listen on ({@code CLUSTER_PORT}); 7800 by default. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** How many ports above {@link #port} to try when it is taken, and to probe on peers; 0 by default. */
        public Builder portRange(int range) {
            this.portRange = range;
            return this;
        }

        /** The UDP multicast port for MULTICAST discovery; JGroups' 45588 by default. */
        public Builder multicastPort(int port) {
            this.multicastPort = port;
            return this;
        }

        /** The UDP multicast group for MULTICAST discovery; JGroups' 228.8.8.8 by default. */
        public Builder multicastAddress(InetAddress group) {
            this.multicastAddress = Objects.requireNonNull(group, "group");
            return this;
        }

        /** The cluster secret: authenticates members and encrypts traffic; without one the mesh is open. */
        public Builder secret(@Nullable Secret secret) {
            this.secret = secret;
            return this;
        }

        /**
         * Runs without a cluster secret, so anyone who can publish on the channel can inject messages; without
         * this (or a secret) {@link #build()} refuses. Logged at WARN and shown in health.
         */
        public Builder allowUnsigned() {
            return allowUnsigned(true);
        }

        /** Whether this backplane may run without a cluster secret ({@code CHORUS_ALLOW_UNSIGNED}). */
        public Builder allowUnsigned(boolean allowUnsigned) {
            this.allowUnsigned = allowUnsigned;
            return this;
        }

        /**
         * How far a received signed envelope's timestamp may be from this replica's clock before it is
         * refused as a replay; {@link ChorusConfig#DEFAULT_REPLAY_WINDOW} by default.
         */
        public Builder replayWindow(Duration replayWindow) {
            this.replayWindow = dev.chorus.internal.Checks.positive("replayWindow", replayWindow);
            return this;
        }

        /** The largest envelope accepted. */
        public Builder maxEnvelopeBytes(int max) {
            this.maxEnvelopeBytes = max;
            return this;
        }

        /** The clock for timestamps. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Time without heartbeats before a member is suspected; 10 s by default. */
        public Builder failureTimeout(Duration timeout) {
            this.failureTimeout = timeout;
            return this;
        }

        /** How long DEGRADED lasts after a suspicion when no merge follows; 30 s by default. */
        public Builder suspicionGrace(Duration grace) {
            this.suspicionGrace = grace;
            return this;
        }

        /** The range of MERGE3's probing interval; 10 to 30 s by default. */
        public Builder mergeInterval(Duration min, Duration max) {
            this.mergeMin = min;
            this.mergeMax = max;
            return this;
        }

        /** How long a joiner waits for the coordinator before forming a view alone; 2 s by default. */
        public Builder joinTimeout(Duration timeout) {
            this.joinTimeout = timeout;
            return this;
        }

        /** Envelopes that may wait for the sender before publishes fail. */
        public Builder sendQueueCapacity(int capacity) {
            this.sendQueueCapacity = capacity;
            return this;
        }

        /**
         * Bytes of envelopes that may wait for the sender before publishes fail (default 32 MiB,
         * {@value ChorusConfig#SEND_QUEUE_BYTES}).
         */
        public Builder sendQueueBytes(long bytes) {
            this.sendQueueBytes = Checks.positive("sendQueueBytes", bytes);
            return this;
        }

        /**
         * Payload bytes each subscription may have waiting before envelopes are dropped with a Missed signal
         * (default 32 MiB, {@value ChorusConfig#RECEIVE_QUEUE_BYTES}).
         */
        public Builder receiveQueueBytes(long bytes) {
            this.receiveQueueBytes = Checks.positive("receiveQueueBytes", bytes);
            return this;
        }

        /** Adds JGroups' DISCARD protocol above the transport so tests can cut this member off. */
        public Builder faultInjection(boolean on) {
            this.faultInjection = on;
            return this;
        }

        /** The Chorus version this member advertises in membership; the running version by default. */
        public Builder version(String version) {
            this.version = Objects.requireNonNull(version, "version");
            return this;
        }

        /** Small facts this member advertises in membership. */
        public Builder attributes(Map<String, String> attributes) {
            this.attributes = Map.copyOf(attributes);
            return this;
        }

        /** The wire-format version; tests change it to prove that incompatible members are refused. */
        Builder wireVersion(int version) {
            this.wireVersion = version;
            return this;
        }

        /** Builds and starts the backplane; it joins in the background (health says when it has). */
        public JGroupsBackplane build() {
            WireSecurity.requireSecret("jgroups", secret, allowUnsigned);
            if (port < 1 || port > 65535) {
                throw new ChorusException("JGroups port " + port + " is not from 1 to 65535 (CLUSTER_PORT, e.g. 7800)");
            }
            if (discovery == Discovery.TCP && initialHosts.isEmpty()) {
                throw new ChorusException("CLUSTER_DISCOVERY=tcp needs CLUSTER_INITIAL_HOSTS listing every member,"
                        + " this one included (for example CLUSTER_INITIAL_HOSTS=10.0.0.1[7800],10.0.0.2[7800])");
            }
            if (discovery == Discovery.DNS && (dnsQuery == null || dnsQuery.isBlank())) {
                throw new ChorusException("CLUSTER_DISCOVERY=dns needs CLUSTER_DNS_QUERY, the headless Service name"
                        + " (for example CLUSTER_DNS_QUERY=chorus-headless.default.svc.cluster.local)");
            }
            return new JGroupsBackplane(this);
        }

        private static InetAddress defaultBindAddress() {
            try {
                for (var nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
                    if (!nic.isUp() || nic.isLoopback()) {
                        continue;
                    }
                    for (InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
                        if (a.isSiteLocalAddress()) {
                            return a;
                        }
                    }
                }
            } catch (java.net.SocketException e) {
                LOG.debug("Could not list network interfaces; binding JGroups to loopback", e);
            }
            return InetAddress.getLoopbackAddress();
        }
    }
}
