package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.BackplaneClosedException;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.EnvelopeTooLargeException;
import dev.chorus.wire.Rejection;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour every {@link Backplane} transport must show, written once and run against each transport
 * by a subclass that says how to start replicas on it (after Micrometer's
 * MeterRegistryCompatibilityKit).
 *
 * <p>A subclass implements {@link #newCluster(String)}; every test gets a fresh cluster (its own channel,
 * schema or key prefix), so tests never see each other's traffic. Fault tests run when the cluster offers
 * {@link Faults}; raw-injection tests when it offers {@link ClusterFixture#injectRaw}.
 */
public abstract class BackplaneCompatibilityKit {

    /** One test's cluster on the transport under test. */
    public interface ClusterFixture extends AutoCloseable {

        /** Starts one more replica on this cluster and returns its backplane, not yet necessarily connected. */
        Backplane join();

        /**
         * Starts a replica of a different cluster (another channel) on the same transport server, to prove
         * that deployments sharing a server never hear each other.
         */
        Backplane joinOtherCluster();

        /** Puts raw bytes on this cluster's channel as a foreign client would; empty if not supported. */
        default Optional<RawInjector> injectRaw() {
            return Optional.empty();
        }

        /**
         * Puts encoded envelope bytes on this cluster's channel framed as another replica of this transport
         * would send them, bypassing Chorus; empty if not supported. By default the same as {@link
         * #injectRaw()}, for transports that carry one envelope per message unframed.
         */
        default Optional<RawInjector> injectEnvelope() {
            return injectRaw();
        }

        /**
         * The cluster secret this cluster's replicas share, if they sign: replay tests re-encode a received
         * envelope with it (the same bytes that travelled) and forge fresh ones.
         */
        default Optional<Secret> secret() {
            return Optional.empty();
        }

        /**
         * Starts one more replica whose clock is {@code clock}, for freshness tests; empty if not supported.
         */
        default Optional<Backplane> joinAt(Clock clock) {
            return Optional.empty();
        }

        /** Breaks and restores one replica's link to the transport; empty if not supported. */
        default Optional<Faults> faults() {
            return Optional.empty();
        }

        /** Stops every replica and drops the test's channel, schema or keys. */
        @Override
        void close() throws Exception;
    }

    /** Sends bytes that are not (or not necessarily) a valid envelope onto the cluster's channel. */
    @FunctionalInterface
    public interface RawInjector {
        /** Publishes {@code bytes} on the channel, bypassing Chorus. */
        void inject(byte[] bytes) throws Exception;
    }

    /** Cuts and heals a replica's connection to the transport. */
    public interface Faults {
        /** Breaks {@code backplane}'s connection the way a network or server failure would. */
        void disconnect(Backplane backplane) throws Exception;

        /** Lets {@code backplane} reconnect; it may take the transport's own backoff to do so. */
        void heal(Backplane backplane) throws Exception;

        /**
         * Stops bytes flowing on {@code backplane}'s connections without closing them, as a hung network path
         * does; {@link #heal} lets them flow again. Transports without a proxy in front may not support it.
         */
        default void freeze(Backplane backplane) throws Exception {
            throw new UnsupportedOperationException("this cluster fixture cannot freeze a connection");
        }

        /**
         * Kills {@code backplane}'s connection from the server side, as an operator or a failover does
         * ({@code pg_terminate_backend}, {@code CLIENT KILL}); the backplane reconnects on its own.
         */
        default void kill(Backplane backplane) throws Exception {
            disconnect(backplane);
            heal(backplane);
        }
    }

    /** Creates this test's cluster; {@code testName} helps name its channel or schema. */
    protected abstract ClusterFixture newCluster(String testName) throws Exception;

    /** How long to wait for delivery or recovery; transports with slow reconnects may raise it. */
    protected Duration patience() {
        return Duration.ofSeconds(20);
    }

    private ClusterFixture cluster;
    private final List<Backplane> started = new ArrayList<>();

    @BeforeEach
    void createCluster(TestInfo info) throws Exception {
        cluster = newCluster(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterEach
    void closeCluster() throws Exception {
        for (Backplane backplane : started) {
            backplane.close();
        }
        cluster.close();
    }

    private Backplane join() {
        Backplane backplane = cluster.join();
        started.add(backplane);
        return backplane;
    }

    private List<Backplane> joinHealthy(int count) {
        List<Backplane> replicas = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            replicas.add(join());
        }
        for (Backplane backplane : replicas) {
            waiting().until(() -> backplane.health().isHealthy());
        }
        return replicas;
    }

    private ConditionFactory waiting() {
        return await().atMost(patience()).pollInterval(Duration.ofMillis(10));
    }

    /** Proves a subscription on every replica is live by round-tripping a marker from {@code from}. */
    private void awaitSubscriptionsLive(Backplane from, String topic, List<Recorder> recorders) {
        // A transport may take a moment to LISTEN/SUBSCRIBE; publish markers until every recorder saw one.
        // Recorders never record markers, so late ones cannot disturb what a test asserts.
        waiting().until(() -> {
            from.publish(Message.of(topic, Recorder.MARKER));
            return recorders.stream().allMatch(Recorder::sawMarker);
        });
    }

    @Test
    void publish_reachesEveryReplicaExactlyOnce() {
        List<Backplane> replicas = joinHealthy(3);
        Backplane a = replicas.get(0);
        List<Recorder> recorders =
                replicas.stream().map(b -> Recorder.on(b, "t")).toList();
        awaitSubscriptionsLive(a, "t", recorders);

        a.publish(Message.of("t", "hello")).join();
        a.publish(Message.of("t", "end")).join();

        for (Recorder recorder : recorders) {
            waiting().until(() -> recorder.texts().contains("end"));
            assertThat(recorder.texts()).containsExactly("hello", "end");
            assertThat(recorder.missed()).isEmpty();
        }
    }

    @Test
    void ownMessages_reachOwnSubscribersOnceWithOriginAndHeaders() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder own = Recorder.on(a, "t");
        Recorder other = Recorder.on(replicas.get(1), "t");
        awaitSubscriptionsLive(a, "t", List.of(own, other));
        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }

        a.publish(new Message("t", Map.of("content-type", "application/octet-stream", "é", "ü"), binary));
        a.publish(Message.of("t", "end"));

        waiting().until(() -> other.envelopes().size() == 2 && own.envelopes().size() == 2);
        for (Recorder recorder : List.of(own, other)) {
            Envelope first = recorder.envelopes().get(0);
            assertThat(first.payload()).isEqualTo(binary);
            assertThat(first.headers())
                    .containsEntry("content-type", "application/octet-stream")
                    .containsEntry("é", "ü");
            assertThat(first.origin()).isEqualTo(a.replica());
            assertThat(first.cluster()).isEqualTo(a.cluster());
            assertThat(first.kind()).isEqualTo(Envelope.Kind.MESSAGE);
        }
    }

    @Test
    void envelopesFromOnePublisher_arriveInOrder() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder onB = Recorder.on(replicas.get(1), "ordered");
        awaitSubscriptionsLive(a, "ordered", List.of(onB));
        int count = 2_000;

        for (int i = 0; i < count; i++) {
            a.publish(Message.of("ordered", Integer.toString(i)));
        }

        waiting().until(() -> onB.texts().size() >= count);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            expected.add(Integer.toString(i));
        }
        assertThat(onB.texts()).containsExactlyElementsOf(expected);
        assertThat(onB.missed()).isEmpty();
        List<Long> sequences = onB.envelopes().stream().map(Envelope::sequence).toList();
        assertThat(sequences).isSorted().doesNotHaveDuplicates();
    }

    @Test
    void concurrentPublishers_eachKeepTheirOrder() throws Exception {
        List<Backplane> replicas = joinHealthy(3);
        Backplane receiver = replicas.get(2);
        Recorder recorder = Recorder.on(receiver, "mixed");
        awaitSubscriptionsLive(replicas.get(0), "mixed", List.of(recorder));
        awaitSubscriptionsLive(replicas.get(1), "mixed", List.of(recorder));
        int perThread = 500;
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < 2; p++) {
            Backplane publisher = replicas.get(p);
            for (int t = 0; t < 2; t++) {
                String prefix = p + "-" + t + "-";
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < perThread; i++) {
                        publisher.publish(Message.of("mixed", prefix + i));
                    }
                }));
            }
        }
        for (Thread thread : threads) {
            thread.join();
        }

        waiting().until(() -> recorder.texts().size() >= 4 * perThread);
        assertThat(recorder.texts()).hasSize(4 * perThread).doesNotHaveDuplicates();
        assertThat(recorder.missed()).isEmpty();
        for (Backplane publisher : replicas.subList(0, 2)) {
            List<Long> sequences = recorder.envelopes().stream()
                    .filter(e -> e.isFrom(publisher.replica()))
                    .map(Envelope::sequence)
                    .toList();
            assertThat(sequences).hasSize(2 * perThread).isSorted();
        }
        for (int p = 0; p < 2; p++) {
            for (int t = 0; t < 2; t++) {
                String prefix = p + "-" + t + "-";
                List<Integer> order = recorder.texts().stream()
                        .filter(s -> s.startsWith(prefix))
                        .map(s -> Integer.parseInt(s.substring(prefix.length())))
                        .toList();
                assertThat(order).as("thread %s", prefix).isSorted().hasSize(perThread);
            }
        }
    }

    @Test
    void topics_areIsolatedAndUnsubscribeStopsDelivery() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder onX = Recorder.on(replicas.get(1), "x");
        Recorder onY = new Recorder();
        Subscription ySubscription = replicas.get(1).subscribe("y", onY);
        awaitSubscriptionsLive(a, "x", List.of(onX));
        awaitSubscriptionsLive(a, "y", List.of(onY));

        a.publish(Message.of("x", "for x"));
        waiting().until(() -> onX.texts().size() == 1);
        ySubscription.close();
        ySubscription.close();
        a.publish(Message.of("y", "after unsubscribe"));
        a.publish(Message.of("x", "end"));

        waiting().until(() -> onX.texts().contains("end"));
        assertThat(onX.texts()).containsExactly("for x", "end");
        assertThat(onY.texts()).isEmpty();
    }

    @Test
    void throwingSubscriber_isCountedAndDeliveryContinues() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane b = replicas.get(1);
        List<String> seen = new CopyOnWriteArrayList<>();
        List<String> threads = new CopyOnWriteArrayList<>();
        b.subscribe("t", envelope -> {
            threads.add(Thread.currentThread().getName());
            seen.add(envelope.payloadAsString());
            if (envelope.payloadAsString().equals("boom")) {
                throw new IllegalStateException("subscriber bug (expected by the test)");
            }
        });
        Backplane a = replicas.get(0);
        waiting().until(() -> {
            a.publish(Message.of("t", Recorder.MARKER));
            return seen.contains(Recorder.MARKER);
        });

        a.publish(Message.of("t", "boom"));
        a.publish(Message.of("t", "after"));

        waiting().until(() -> seen.contains("after"));
        assertThat(b.stats().subscriberErrors()).isEqualTo(1);
        assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("chorus-deliver-"));
    }

    @Test
    void largePayload_roundTrips() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder onB = Recorder.on(replicas.get(1), "big");
        awaitSubscriptionsLive(a, "big", List.of(onB));
        byte[] payload = new byte[200 * 1024];
        new java.util.Random(7).nextBytes(payload);

        a.publish(Message.of("big", payload)).join();

        waiting().until(() -> onB.envelopes().size() == 1);
        assertThat(onB.envelopes().get(0).payload()).isEqualTo(payload);
    }

    @Test
    void tooLargeMessage_isRefusedAndLeavesNoGap() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder onB = Recorder.on(replicas.get(1), "t");
        awaitSubscriptionsLive(a, "t", List.of(onB));

        assertThatThrownBy(() -> a.publish(Message.of("t", new byte[64 * 1024 * 1024])))
                .isInstanceOf(EnvelopeTooLargeException.class);
        a.publish(Message.of("t", "next"));

        waiting().until(() -> onB.texts().contains("next"));
        assertThat(onB.missed()).isEmpty();
    }

    @Test
    void otherCluster_onTheSameServer_neverHearsUs() {
        List<Backplane> replicas = joinHealthy(2);
        Backplane stranger = cluster.joinOtherCluster();
        started.add(stranger);
        waiting().until(() -> stranger.health().isHealthy());
        Recorder onStranger = Recorder.on(stranger, "t");
        Recorder onB = Recorder.on(replicas.get(1), "t");
        awaitSubscriptionsLive(replicas.get(0), "t", List.of(onB));
        awaitSubscriptionsLive(stranger, "t", List.of(onStranger));

        replicas.get(0).publish(Message.of("t", "ours"));
        stranger.publish(Message.of("t", "theirs"));
        replicas.get(0).publish(Message.of("t", "end"));

        waiting().until(() -> onB.texts().contains("end"));
        waiting().until(() -> onStranger.texts().contains("theirs"));
        assertThat(onB.texts()).containsExactly("ours", "end");
        assertThat(onStranger.texts()).containsExactly("theirs");
    }

    @Test
    void garbageOnTheChannel_isDroppedCountedAndHarmless() throws Exception {
        Optional<RawInjector> injector = cluster.injectRaw();
        org.junit.jupiter.api.Assumptions.assumeTrue(
                injector.isPresent(), "this transport's fixture cannot put raw bytes on the channel");
        List<Backplane> replicas = joinHealthy(2);
        Backplane b = replicas.get(1);
        Recorder onB = Recorder.on(b, "t");
        awaitSubscriptionsLive(replicas.get(0), "t", List.of(onB));

        injector.get().inject("{\"not\":\"an envelope\"}".getBytes(StandardCharsets.UTF_8));
        injector.get().inject(new byte[] {'C', 'E', 9, 0, 1});
        replicas.get(0).publish(Message.of("t", "still works"));

        waiting().until(() -> onB.texts().contains("still works"));
        waiting().until(() -> b.stats().rejectedTotal() >= 2);
        assertThat(b.health().isHealthy()).isTrue();
        assertThat(onB.texts()).containsExactly("still works");
    }

    /*
     * A recording of a real signed envelope (re-encoding a received envelope gives the bytes that travelled)
     * is put back on the channel for two replicas that never heard its origin: "late", whose clock is past the
     * replay window, refuses and counts it; "fresh", inside the window, accepts it. Forged envelopes stamped by
     * each replica's clock, injected after it, prove each replica has processed the replay before the asserts
     * (one channel, one order), and the one stamped for "late" is in the future for "fresh", which refuses it.
     */
    @Test
    void recordedSignedEnvelope_replayedAfterTheWindow_isRefusedAndCounted_insideTheWindowAccepted() throws Exception {
        Optional<RawInjector> injector = cluster.injectEnvelope();
        Optional<Secret> secret = cluster.secret();
        Duration later = ChorusConfig.DEFAULT_REPLAY_WINDOW.plusMinutes(1);
        Clock ahead = Clock.offset(Clock.systemUTC(), later);
        org.junit.jupiter.api.Assumptions.assumeTrue(
                injector.isPresent() && secret.isPresent(), "this fixture cannot inject signed envelopes");
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Recorder onB = Recorder.on(replicas.get(1), "t");
        awaitSubscriptionsLive(a, "t", List.of(onB));
        a.publish(Message.of("t", "recorded"));
        waiting().until(() -> onB.texts().contains("recorded"));
        EnvelopeCodec codec =
                EnvelopeCodec.builder(a.cluster()).secret(secret.get()).build();
        Envelope original = onB.envelopes().stream()
                .filter(e -> e.payloadAsString().equals("recorded"))
                .findFirst()
                .orElseThrow();
        byte[] recording = codec.encode(original);

        Optional<Backplane> lateReplica = cluster.joinAt(ahead);
        org.junit.jupiter.api.Assumptions.assumeTrue(lateReplica.isPresent(), "this fixture cannot set a clock");
        Backplane late = lateReplica.get();
        started.add(late);
        Backplane fresh = join();
        waiting().until(() -> late.health().isHealthy() && fresh.health().isHealthy());
        Recorder onLate = Recorder.on(late, "t");
        Recorder onFresh = Recorder.on(fresh, "t");
        ReplicaId forger = ReplicaId.random("forger");
        // Two replicas just joined: a mesh may take a while under load to carry the sender's traffic to both.
        await().atMost(patience().multipliedBy(2))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> {
                    injector.get()
                            .inject(codec.encode(forged(a.cluster(), forger, Clock.systemUTC(), Recorder.MARKER)));
                    injector.get().inject(codec.encode(forged(a.cluster(), forger, ahead, Recorder.MARKER)));
                    return onLate.sawMarker() && onFresh.sawMarker();
                });
        long replayedBefore = late.stats().rejected().get(Rejection.REPLAYED);

        injector.get().inject(recording);
        injector.get().inject(codec.encode(forged(a.cluster(), forger, ahead, "after, stamped for late")));
        injector.get().inject(codec.encode(forged(a.cluster(), forger, Clock.systemUTC(), "after, stamped now")));

        waiting().until(() -> onLate.texts().contains("after, stamped for late"));
        waiting().until(() -> onFresh.texts().contains("after, stamped now"));
        assertThat(onLate.texts()).doesNotContain("recorded");
        assertThat(late.stats().rejected().get(Rejection.REPLAYED)).isGreaterThan(replayedBefore);
        assertThat(onFresh.texts()).contains("recorded").doesNotContain("after, stamped for late");
        assertThat(fresh.stats().rejected().get(Rejection.REPLAYED)).isPositive();
    }

    private static Envelope forged(String cluster, ReplicaId origin, Clock clock, String text) {
        // Unsequenced, so that the forger's envelopes are judged by freshness alone, not by gap tracking.
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                cluster,
                origin,
                1,
                0,
                clock.instant(),
                "t",
                Map.of(),
                text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void lostConnection_degradesKeepsLocalDeliveryAndReportsTheReconnect() throws Exception {
        Optional<Faults> faults = cluster.faults();
        org.junit.jupiter.api.Assumptions.assumeTrue(faults.isPresent(), "this transport's fixture injects no faults");
        List<Backplane> replicas = joinHealthy(2);
        Backplane a = replicas.get(0);
        Backplane b = replicas.get(1);
        Recorder onB = Recorder.on(b, "t");
        awaitSubscriptionsLive(a, "t", List.of(onB));
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.onConnectivity(events::add);

        faults.get().disconnect(b);
        waiting().until(() -> b.health().status() == Health.Status.DEGRADED);
        assertThat(b.health().reason()).isNotBlank().isNotEqualTo("ok");
        b.publish(Message.of("t", "local while down"));
        waiting().until(() -> onB.texts().contains("local while down"));

        faults.get().heal(b);
        waiting().until(() -> b.health().isHealthy());
        waiting().until(() -> onB.missed().stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
        waiting().until(() -> events.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        assertThat(events.get(0).type()).isEqualTo(ConnectivityEvent.Type.DISCONNECTED);
        waiting().until(() -> {
            a.publish(Message.of("t", "after heal"));
            return onB.texts().contains("after heal");
        });
    }

    @Test
    void closedBackplane_isDownRefusesWorkAndClosesIdempotently() {
        Backplane a = joinHealthy(1).get(0);

        a.close();
        a.close();

        assertThat(a.health().status()).isEqualTo(Health.Status.DOWN);
        assertThatThrownBy(() -> a.publish(Message.of("t", "late"))).isInstanceOf(BackplaneClosedException.class);
        assertThatThrownBy(() -> a.subscribe("t", e -> {})).isInstanceOf(BackplaneClosedException.class);
    }

    @Test
    void slowSubscriber_neverSlowsOthers() throws Exception {
        List<Backplane> replicas = joinHealthy(2);
        Backplane b = replicas.get(1);
        CountDownLatch release = new CountDownLatch(1);
        b.subscribe("t", envelope -> {
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Recorder fast = Recorder.on(b, "t");
        awaitSubscriptionsLive(replicas.get(0), "t", List.of(fast));

        for (int i = 0; i < 100; i++) {
            replicas.get(0).publish(Message.of("t", Integer.toString(i)));
        }

        waiting().until(() -> fast.texts().size() == 100);
        release.countDown();
    }

    /** Records one subscription's envelopes and loss signals. */
    protected static final class Recorder implements Subscriber {
        /** The payload of liveness probes, which recorders note but do not record. */
        public static final String MARKER = "chorus-kit-marker";

        private final List<Envelope> envelopes = new CopyOnWriteArrayList<>();
        private final List<Missed> missed = new CopyOnWriteArrayList<>();
        private volatile boolean sawMarker;

        /** Subscribes a new recorder to {@code topic} on {@code backplane}. */
        public static Recorder on(Backplane backplane, String topic) {
            Recorder recorder = new Recorder();
            backplane.subscribe(topic, recorder);
            return recorder;
        }

        @Override
        public void onMessage(Envelope envelope) {
            if (envelope.payloadSize() == MARKER.length()
                    && envelope.payloadAsString().equals(MARKER)) {
                sawMarker = true;
                return;
            }
            envelopes.add(envelope);
        }

        /** Whether a liveness marker arrived. */
        public boolean sawMarker() {
            return sawMarker;
        }

        @Override
        public void onMissed(Missed m) {
            missed.add(m);
        }

        /** Every envelope so far. */
        public List<Envelope> envelopes() {
            return envelopes;
        }

        /** Payloads as text. */
        public List<String> texts() {
            return envelopes.stream().map(Envelope::payloadAsString).toList();
        }

        /** Loss signals so far. */
        public List<Missed> missed() {
            return missed;
        }
    }

    static {
        Awaitility.setDefaultPollInterval(Duration.ofMillis(10));
    }
}
