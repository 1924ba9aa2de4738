package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.postgres.PostgresBackplaneIT.Recorder;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.Rejection;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: spill references from the wire cost bounded work, never hold up ordinary notifications, and cannot
 * load another channel's row; a spilled envelope keeps its place among its origin's envelopes.
 */
class SpillReferenceIT {

    private static final Secret SECRET = new Secret("chorus-test-secret-0123456789");

    private final PgTestCluster cluster = new PgTestCluster("pgspill");

    @AfterEach
    void close() throws Exception {
        cluster.close();
    }

    @Test
    void forgedReferenceFlood_leavesOrdinaryLatencyAlone_andIsCounted() throws Exception {
        PostgresBackplane a = replica("a");
        PostgresBackplane b = replica("b");
        BlockingQueue<Long> latencies = new ArrayBlockingQueue<>(16);
        b.subscribe("t", new Subscriber() {
            @Override
            public void onMessage(Envelope envelope) {
                latencies.add(
                        System.nanoTime() - ByteBuffer.wrap(envelope.payload()).getLong());
            }
        });
        awaitHealthy(a, b);
        roundTrips(a, latencies, 50); // warm-up

        List<Long> quiet = new ArrayList<>();
        List<Long> flooded = new ArrayList<>();
        long forged = 0;
        for (int round = 0; round < 3; round++) {
            quiet.addAll(roundTrips(a, latencies, 200));
            try (Flood flood = new Flood(a.replica().uuid())) {
                flooded.addAll(roundTrips(a, latencies, 200));
                forged += flood.stop();
            }
        }

        long total = forged;
        await().atMost(Duration.ofSeconds(30))
                .until(() -> b.stats().rejected().getOrDefault(Rejection.BAD_SIGNATURE, 0L) >= total);
        long quietP99 = p99(quiet);
        long floodedP99 = p99(flooded);
        System.out.printf(
                "forged references: %d; ordinary round trip p99 %.2f ms quiet, %.2f ms flooded%n",
                total, quietP99 / 1e6, floodedP99 / 1e6);
        assertThat(total).isGreaterThan(2_000);
        assertThat(floodedP99).isLessThanOrEqualTo(2 * quietP99 + TimeUnit.MILLISECONDS.toNanos(20));
        assertThat(spill(b)).containsEntry("loaded", 0L).containsEntry("missing", 0L);
    }

    @Test
    void ordinaryNotifications_flowWhileTheSpillFetcherIsBlocked_andUnloadableReferencesAreCounted() throws Exception {
        PostgresBackplane a = replica("a");
        PostgresBackplane b = cluster.replica(
                cluster.database(), "b", x -> x.secret(SECRET).spillFetch(8, 1_000, Duration.ofSeconds(60)));
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        SpillReferences valid = new SpillReferences(cluster.channel, SECRET);

        try (Connection locker = cluster.schema.connect()) {
            locker.setAutoCommit(false);
            locker.createStatement().execute("LOCK TABLE " + cluster.schema.name() + ".spill IN ACCESS EXCLUSIVE MODE");
            // Valid references (as a replica holding the secret would send) to rows that do not exist: one of an
            // origin that sends nothing else, and 29 unsequenced ones, more than the queue of 8 holds.
            cluster.rawNotify(valid.reference(Long.MAX_VALUE - 1, UUID.randomUUID()));
            for (int i = 0; i < 29; i++) {
                cluster.rawNotify(valid.reference(Long.MAX_VALUE - 2 - i, null));
            }
            await().atMost(Duration.ofSeconds(15)).until(() -> fetchesWaitingForTheLock() == 1);

            List<String> sent = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                sent.add("while blocked " + i);
                a.publish(Message.of("t", sent.getLast()));
            }

            await().atMost(Duration.ofSeconds(15)).until(() -> onB.texts().containsAll(sent));
            assertThat(onB.texts()).containsExactlyElementsOf(sent);
            assertThat(fetchesWaitingForTheLock()).isEqualTo(1);
            assertThat((Long) spill(b).get("queueFull")).isGreaterThanOrEqualTo(29 - 8 - 8 + 1);
            locker.rollback();
        }

        await().atMost(Duration.ofSeconds(15))
                .until(() -> (Long) spill(b).get("missing") + (Long) spill(b).get("queueFull") == 30);
        assertThat(b.stats().rejected()).containsEntry(Rejection.SPILL_UNAVAILABLE, 30L);
        assertThat(onB.missed()).isEmpty();
    }

    @Test
    void aPendingReferenceOfAnOrigin_holdsItsLaterEnvelopes_atMostTheFetchTimeout() throws Exception {
        PostgresBackplane a = replica("a");
        PostgresBackplane b = cluster.replica(
                cluster.database(), "b", x -> x.secret(SECRET).spillFetch(64, 1_000, Duration.ofSeconds(2)));
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        a.publish(Message.of("t", "before")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts().contains("before"));

        try (Connection locker = cluster.schema.connect()) {
            locker.setAutoCommit(false);
            locker.createStatement().execute("LOCK TABLE " + cluster.schema.name() + ".spill IN ACCESS EXCLUSIVE MODE");
            // A reference in a's name (only a holder of the secret can make one) to a row that cannot be loaded.
            cluster.rawNotify(new SpillReferences(cluster.channel, SECRET)
                    .reference(Long.MAX_VALUE, a.replica().uuid()));
            await().atMost(Duration.ofSeconds(15)).until(() -> fetchesWaitingForTheLock() == 1);
            List<String> sent = List.of("after 1", "after 2", "after 3");
            for (String text : sent) {
                a.publish(Message.of("t", text));
            }

            // They wait for the reference ahead of them, then go on in order when its fetch times out.
            await().atMost(Duration.ofSeconds(20)).until(() -> (Long) spill(b).get("failed") == 1L);
            await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts().containsAll(sent));
            assertThat(onB.texts()).containsExactly("before", "after 1", "after 2", "after 3");
            locker.rollback();
        }
        assertThat(b.stats().rejected()).containsEntry(Rejection.SPILL_UNAVAILABLE, 1L);
    }

    @Test
    void spillFetchRate_boundsTheReferencesLoadedPerSecond() throws Exception {
        PostgresBackplane b = cluster.replica(
                cluster.database(), "b", x -> x.secret(SECRET).spillFetch(64, 5, Duration.ofSeconds(5)));
        awaitHealthy(b);
        SpillReferences valid = new SpillReferences(cluster.channel, SECRET);

        long start = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            cluster.rawNotify(valid.reference(Long.MAX_VALUE - i, null));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> (Long) spill(b).get("missing") == 20L);

        // A burst of one second's worth (5), then 5 a second: the last of 20 cannot be loaded before 3 s.
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(2_900));
    }

    @Test
    void aSpilledEnvelopeDroppedForAFullQueue_isReportedAsAGap_notLostSilently() throws Exception {
        PostgresBackplane a = replica("a");
        // One reference waits at most, and one is loaded a second: a few decoys fill the queue for a second.
        PostgresBackplane b =
                cluster.replica(cluster.database(), "b", x -> x.secret(SECRET).spillFetch(1, 1, Duration.ofSeconds(5)));
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        a.publish(Message.of("t", "before")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts().contains("before"));
        SpillReferences valid = new SpillReferences(cluster.channel, SECRET);

        for (int i = 0; i < 5; i++) {
            cluster.rawNotify(valid.reference(Long.MAX_VALUE - i, null));
        }
        a.publish(Message.of("t", new byte[20 * 1024])).join();
        a.publish(Message.of("t", "after")).join();

        await().atMost(Duration.ofSeconds(15)).until(() -> onB.texts().contains("after"));
        assertThat(onB.texts()).containsExactly("before", "after");
        assertThat(onB.missed()).singleElement().satisfies(missed -> {
            assertThat(missed.cause()).isEqualTo(Missed.Cause.SEQUENCE_GAP);
            assertThat(missed.origin()).isEqualTo(a.replica());
        });
        assertThat((Long) spill(b).get("queueFull")).isGreaterThanOrEqualTo(1L);
    }

    @Test
    void envelopesParkedBehindAPendingReference_areBounded_thenReleasedInOrder() throws Exception {
        PostgresBackplane a = replica("a");
        PostgresBackplane b = cluster.replica(
                cluster.database(), "b", x -> x.secret(SECRET).spillFetch(64, 1_000, Duration.ofSeconds(120)));
        List<String> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        b.subscribe("t", new Subscriber() {
            @Override
            public void onMessage(Envelope envelope) {
                received.add(envelope.payloadAsString());
            }
        });
        awaitHealthy(a, b);

        try (Connection locker = cluster.schema.connect()) {
            locker.setAutoCommit(false);
            locker.createStatement().execute("LOCK TABLE " + cluster.schema.name() + ".spill IN ACCESS EXCLUSIVE MODE");
            cluster.rawNotify(new SpillReferences(cluster.channel, SECRET)
                    .reference(Long.MAX_VALUE, a.replica().uuid()));
            await().atMost(Duration.ofSeconds(15)).until(() -> fetchesWaitingForTheLock() == 1);
            int count = NotificationReceiver.MAX_PARKED_ENVELOPES + 100;
            for (int i = 0; i < count; i++) {
                a.publish(Message.of("t", Integer.toString(i)));
            }

            // The fetch is still blocked, but a's envelopes stop waiting once the bound is reached.
            await().atMost(Duration.ofSeconds(60)).until(() -> received.size() == count);
            assertThat(received)
                    .containsExactlyElementsOf(java.util.stream.IntStream.range(0, count)
                            .mapToObj(Integer::toString)
                            .toList());
            assertThat(spill(b)).containsEntry("givenUp", 1L);
            assertThat(fetchesWaitingForTheLock()).isEqualTo(1);
            locker.rollback();
        }
    }

    @Test
    void spilledEnvelopes_keepTheirPlaceAmongTheirOriginsEnvelopes() throws Exception {
        PostgresBackplane a = replica("a");
        PostgresBackplane b = replica("b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        byte[] big = new byte[20 * 1024];
        new Random(7).nextBytes(big);

        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            byte[] payload = Arrays.copyOf(big, big.length);
            byte[] label = ("big " + i + ";").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            System.arraycopy(label, 0, payload, 0, label.length);
            a.publish(Message.of("t", payload));
            a.publish(Message.of("t", "small " + i + "a"));
            a.publish(Message.of("t", "small " + i + "b"));
            expected.addAll(List.of("big " + i, "small " + i + "a", "small " + i + "b"));
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> onB.envelopes().size() == expected.size());
        assertThat(onB.envelopes().stream()
                        .map(e -> e.payloadSize() > 1000
                                ? e.payloadAsString()
                                        .substring(0, e.payloadAsString().indexOf(';'))
                                : e.payloadAsString())
                        .toList())
                .containsExactlyElementsOf(expected);
        assertThat(onB.missed()).isEmpty();
        assertThat(spill(b)).containsEntry("loaded", 30L);
        assertThat(b.stats().duplicates()).isZero();
    }

    @Test
    void validReferenceToAnotherChannelsRow_loadsNothing_andIsCounted() throws Exception {
        PostgresBackplane a = replica("a");
        String otherChannel = cluster.schema.uniqueChannel("other");
        PostgresBackplane stranger = cluster.replica(
                cluster.database(), "stranger", x -> x.secret(SECRET).channel(otherChannel));
        Recorder onStranger = Recorder.on(stranger);
        awaitHealthy(a, stranger);
        a.publish(Message.of("t", new byte[50 * 1024])).join();
        long row;
        try (Connection c = cluster.schema.connect();
                PreparedStatement statement = c.prepareStatement(
                        "SELECT max(id) FROM " + cluster.schema.name() + ".spill WHERE channel = ?")) {
            statement.setString(1, cluster.channel);
            try (ResultSet rs = statement.executeQuery()) {
                rs.next();
                row = rs.getLong(1);
            }
        }
        assertThat(row).isPositive();

        // Someone holding the secret (shared by both channels) points the other channel at this channel's row.
        String reference = new SpillReferences(otherChannel, SECRET).reference(row, UUID.randomUUID());
        try (Connection c = cluster.schema.connect();
                PreparedStatement statement = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            statement.setString(1, otherChannel);
            statement.setString(2, reference);
            statement.executeQuery().close();
        }

        await().atMost(Duration.ofSeconds(15))
                .until(() -> (Long) spill(stranger).get("missing") == 1L);
        assertThat(stranger.stats().rejected()).containsEntry(Rejection.SPILL_UNAVAILABLE, 1L);
        assertThat(onStranger.envelopes()).isEmpty();
    }

    private PostgresBackplane replica(String name) {
        return cluster.replica(cluster.database(), name, x -> x.secret(SECRET));
    }

    private static void awaitHealthy(PostgresBackplane... backplanes) {
        for (PostgresBackplane backplane : backplanes) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> spill(PostgresBackplane backplane) {
        return (Map<String, Object>) backplane.health().details().get("spill");
    }

    /** Publishes {@code count} messages one at a time, each after the previous one arrived; their latencies. */
    private static List<Long> roundTrips(PostgresBackplane from, BlockingQueue<Long> latencies, int count)
            throws InterruptedException {
        List<Long> result = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            from.publish(Message.of(
                    "t",
                    ByteBuffer.allocate(Long.BYTES).putLong(System.nanoTime()).array()));
            Long latency = latencies.poll(10, TimeUnit.SECONDS);
            assertThat(latency).as("message %d arrived", i).isNotNull();
            result.add(latency);
        }
        return result;
    }

    private static long p99(List<Long> values) {
        long[] sorted = values.stream().mapToLong(Long::longValue).sorted().toArray();
        return sorted[(int) Math.ceil(sorted.length * 0.99) - 1];
    }

    private long fetchesWaitingForTheLock() throws Exception {
        try (Connection c = cluster.schema.connect();
                PreparedStatement statement = c.prepareStatement(
                        "SELECT count(*) FROM pg_stat_activity WHERE"
                                + " wait_event_type = 'Lock' AND query LIKE 'SELECT id, envelope FROM %spill WHERE channel%'")) {
            try (ResultSet rs = statement.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /**
     * Forged spill references at up to 20,000 a second, as anyone allowed to NOTIFY could send: bare ids (the form
     * of the issue), and references that name a real origin with a made-up MAC.
     */
    private final class Flood implements AutoCloseable {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicLong sent = new AtomicLong();
        private final Thread thread;

        Flood(UUID origin) {
            String originHex =
                    String.format("%016x%016x", origin.getMostSignificantBits(), origin.getLeastSignificantBits());
            thread = Thread.ofPlatform().name("spill-flood").start(() -> {
                Random random = new Random();
                try (Connection c = cluster.schema.connect();
                        PreparedStatement statement =
                                c.prepareStatement("SELECT count(pg_notify(?, p)) FROM unnest(?::text[]) AS p")) {
                    statement.setString(1, cluster.channel);
                    while (running.get()) {
                        StringBuilder array = new StringBuilder("{");
                        for (int i = 0; i < 200; i++) {
                            long id = random.nextLong(1, 1_000_000_000);
                            array.append(i == 0 ? "" : ",")
                                    .append(
                                            i % 4 == 0
                                                    ? "s" + id + "." + originHex + ".AAAAAAAAAAAAAAAAAAAAAA"
                                                    : "s" + id);
                        }
                        statement.setString(2, array.append('}').toString());
                        statement.executeQuery().close();
                        sent.addAndGet(200);
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // pacing the load, not waiting
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        long stop() throws InterruptedException {
            running.set(false);
            thread.join();
            return sent.get();
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }
}
