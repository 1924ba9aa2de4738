package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.internal.Frames;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.RespReply;
import dev.chorus.testkit.TestRedis;
import dev.chorus.testkit.TestSecrets;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Redis-specific behaviour: killed and restarted servers, slow subscribers, foreign clusters, passwords. */
class RedisBackplaneIT {

    private final TestRedis.Embedded owned = TestRedis.startEmbedded();
    private final RedisTestCluster cluster = new RedisTestCluster(owned, "rbp");

    @AfterEach
    void close() throws Exception {
        cluster.close();
        owned.close();
    }

    @Test
    void clientKillOfTheSubscription_degradesThenResubscribesVerifiedAndReportsTheGap() throws Exception {
        RedisBackplane a = cluster.replica("a");
        RedisBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.onConnectivity(events::add);
        awaitHealthy(a, b);

        try (RespClient client = owned.client()) {
            RespReply killed = client.send("CLIENT", "KILL", "TYPE", "pubsub");
            assertThat(killed.asLong()).isEqualTo(2);
        }

        await().until(() -> events.size() >= 2);
        assertThat(events)
                .extracting(ConnectivityEvent::type)
                .startsWith(ConnectivityEvent.Type.DISCONNECTED, ConnectivityEvent.Type.RECONNECTED);
        assertThat(events.get(1).reason()).contains("verified by a canary");
        await().until(() -> onB.missed().stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
        await().until(() -> {
            a.publish(Message.of("t", "after"));
            return onB.texts().contains("after");
        });
    }

    @Test
    void serverShutdownAndRestartMidStream_recoversInOrderAndLosesNothingSilently() throws Exception {
        RedisBackplane a = cluster.replica("a");
        RedisBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);

        for (int i = 0; i < 100; i++) {
            a.publish(Message.of("t", "before " + i));
        }
        await().until(() -> onB.texts().size() == 100);
        try (RespClient client = owned.client()) {
            client.write("SHUTDOWN", "NOSAVE");
        }
        await().until(() -> !owned.isRunning());
        await().until(() -> b.health().status() == Health.Status.DEGRADED);
        for (int i = 0; i < 10; i++) {
            // Reach a's own subscribers now; reach b later if a's publisher still holds them when Redis is
            // back and b is subscribed again, or never, which b then learns from the reconnect signal.
            a.publish(Message.of("t", "while down " + i));
        }
        owned.start();

        await().atMost(Duration.ofSeconds(20))
                .until(() -> a.health().isHealthy() && b.health().isHealthy());
        await().until(() -> onB.missed().stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
        await().until(() -> {
            a.publish(Message.of("t", "after"));
            return onB.texts().contains("after");
        });
        // Whatever arrived, arrived once and in order: late is allowed, silent loss and disorder are not.
        List<String> late =
                onB.texts().stream().filter(t -> t.startsWith("while down")).toList();
        assertThat(late)
                .doesNotHaveDuplicates()
                .isSortedAccordingTo(
                        java.util.Comparator.comparingInt(t -> Integer.parseInt(t.substring("while down ".length()))));
        assertThat(onB.texts().subList(0, 100)).allMatch(t -> t.startsWith("before"));
    }

    @Test
    void slowSubscriberCutOffByTheOutputBufferLimit_isDetectedAndRepaired() throws Exception {
        FaultProxy proxy = cluster.proxy();
        RedisBackplane a = cluster.replica("a");
        RedisBackplane b = cluster.replica(cluster.connector(proxy.host(), proxy.port(), cluster.prefix), "b", x -> x);
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);
        try (RespClient client = owned.client()) {
            client.send("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 128kb 1");
        }
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        b.onConnectivity(events::add);

        proxy.freeze(); // b stops reading, as a subscriber too slow to keep up would
        byte[] chunk = new byte[8 * 1024];
        for (int i = 0; i < 200; i++) {
            a.publish(Message.of("t", chunk));
        }
        await().until(() -> disconnectionsForOutputBuffer() > 0 || events.size() > 0);
        proxy.heal();

        await().atMost(Duration.ofSeconds(20))
                .until(() -> b.health().isHealthy()
                        && events.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        await().until(() -> onB.missed().stream().anyMatch(m -> m.cause() == Missed.Cause.RECONNECTED));
        await().until(() -> {
            a.publish(Message.of("t", "after"));
            return onB.texts().contains("after");
        });
    }

    @Test
    void envelopeOfAnotherClusterOnOurChannel_isDroppedAndCounted() throws Exception {
        RedisBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(b);
        Envelope foreign = Envelope.of(
                Envelope.Kind.MESSAGE,
                "someone-else",
                ReplicaId.random("x"),
                1,
                1,
                Instant.now(),
                "t",
                Map.of(),
                "not for you".getBytes(StandardCharsets.UTF_8));
        byte[] frame = Frames.pack(List.of(EnvelopeCodec.builder("someone-else")
                .secret(TestSecrets.SECRET)
                .build()
                .encode(foreign)));

        try (RespClient client = owned.client()) {
            client.send(
                    "PUBLISH".getBytes(StandardCharsets.UTF_8), b.channel().getBytes(StandardCharsets.UTF_8), frame);
            client.send("PUBLISH", b.channel(), "hello");
        }

        await().until(() -> b.stats().rejected().get(Rejection.FOREIGN_CLUSTER) == 1L
                && b.stats().rejected().get(Rejection.MALFORMED) == 1L);
        assertThat(onB.texts()).isEmpty();
        assertThat(b.health().isHealthy()).isTrue();
    }

    @Test
    void redisDownAtStart_startsDegradedThenConnects() throws Exception {
        owned.stop();
        RedisBackplane b = cluster.replica("b");
        Recorder onB = Recorder.on(b);

        await().until(() -> b.health().status() == Health.Status.DEGRADED);
        b.publish(Message.of("t", "local while down"));
        await().until(() -> onB.texts().contains("local while down"));
        owned.start();

        await().atMost(Duration.ofSeconds(20)).until(() -> b.health().isHealthy());
    }

    @Test
    void passwordProtectedRedis_connectsAndNeverLogsThePassword() throws Exception {
        try (RespClient client = owned.client()) {
            client.send("CONFIG", "SET", "requirepass", "s3cret-pa55");
        }
        RedisConnector connector = RedisConnector.builder("redis://:s3cret-pa55@" + owned.host() + ":" + owned.port())
                .prefix(cluster.prefix)
                .build();
        try (connector;
                RedisBackplane b = RedisBackplane.builder(connector)
                        .replica(ReplicaId.random("b"))
                        .secret(TestSecrets.SECRET)
                        .build()) {
            await().atMost(Duration.ofSeconds(10)).until(() -> b.health().isHealthy());
            assertThat(connector.describe()).doesNotContain("s3cret-pa55").contains("****");
            assertThat(b.health().details().toString()).doesNotContain("s3cret-pa55");
        } finally {
            try (RespClient client = owned.client()) {
                client.send("AUTH", "s3cret-pa55");
                client.send("CONFIG", "SET", "requirepass", "");
            }
        }
    }

    private long disconnectionsForOutputBuffer() {
        try (RespClient client = owned.client()) {
            String info = client.send("INFO", "stats").asString();
            for (String line : info.split("\r\n")) {
                if (line.startsWith("client_output_buffer_limit_disconnections:")) {
                    return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                }
            }
            return 0;
        }
    }

    private static void awaitHealthy(RedisBackplane... backplanes) {
        for (RedisBackplane backplane : backplanes) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
    }

    /** Records topic "t". */
    record Recorder(List<Envelope> envelopes, List<Missed> missed) implements Subscriber {
        static Recorder on(RedisBackplane backplane) {
            Recorder recorder = new Recorder(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
            backplane.subscribe("t", recorder);
            return recorder;
        }

        List<String> texts() {
            return envelopes.stream().map(Envelope::payloadAsString).toList();
        }

        @Override
        public void onMessage(Envelope envelope) {
            envelopes.add(envelope);
        }

        @Override
        public void onMissed(Missed m) {
            missed.add(m);
        }
    }
}
