package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.Secret;
import dev.chorus.backplane.ConnectivityEvent;
import dev.chorus.backplane.Message;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.testkit.RespClient;
import dev.chorus.testkit.TestRedis;
import dev.chorus.wire.Rejection;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20, deliverable 3 (Redis part): lengths read from the wire never size an allocation. A 64 MiB message on
 * the channel and frames announcing {@code 0x7fffffff} bytes are rejected and counted, and delivery goes on.
 */
class RedisFrameLimitsIT {

    static final Secret SECRET = new Secret("chorus-test-secret-0123456789");
    static final int HUGE = 64 * 1024 * 1024;

    private final TestRedis.Embedded owned = TestRedis.startEmbedded();
    private final RedisTestCluster cluster = new RedisTestCluster(owned, "frames");

    @AfterEach
    void close() throws Exception {
        cluster.close();
        owned.close();
    }

    @Test
    void hugeAndLyingFrames_areRejectedAndCounted_andDeliveryGoesOn() {
        // Let Redis deliver the whole message (its default pub/sub limit would cut the subscriber first).
        send("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0");
        RedisBackplane a = signed("a");
        RedisBackplane b = signed("b");
        RedisBackplaneIT.Recorder onA = RedisBackplaneIT.Recorder.on(a);
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        a.onConnectivity(events::add);
        awaitHealthy(a, b);

        publishRaw(a.channel(), lyingFrame(new byte[0]));
        publishRaw(a.channel(), lyingFrame("twelve bytes".getBytes(StandardCharsets.UTF_8)));
        // A frame whose first envelope is well-sized garbage and whose second announces 2^31 - 1 bytes.
        publishRaw(
                a.channel(),
                ByteBuffer.allocate(2 + 4 + 3 + 4 + 1)
                        .put((byte) 'C')
                        .put((byte) 'B')
                        .putInt(3)
                        .put(new byte[] {1, 2, 3})
                        .putInt(Integer.MAX_VALUE)
                        .put((byte) 0)
                        .array());

        await().atMost(Duration.ofSeconds(30))
                .until(() -> a.stats().rejected().getOrDefault(Rejection.MALFORMED, 0L) == 4L);
        assertThat(events).isEmpty();

        // 64 MiB is refused on its header: the subscription closes before the body is read, and is renewed.
        publishRaw(a.channel(), hugeFrame());
        await().atMost(Duration.ofSeconds(30))
                .until(() -> a.stats().rejected().getOrDefault(Rejection.TOO_LARGE, 0L) == 1L
                        && events.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        assertThat(events.get(0).reason()).contains("announced as 67108864 bytes");

        b.publish(Message.of("t", "after the flood"));
        await().until(() -> onA.texts().contains("after the flood"));
        assertThat(a.health().isHealthy()).isTrue();
    }

    @Test
    void messageOverRedisPubSubLimit_cutsTheSubscriber_whichComesBackAndDelivers() {
        RedisBackplane a = signed("a");
        RedisBackplane b = signed("b");
        RedisBackplaneIT.Recorder onA = RedisBackplaneIT.Recorder.on(a);
        List<ConnectivityEvent> events = new CopyOnWriteArrayList<>();
        a.onConnectivity(events::add);
        awaitHealthy(a, b);

        // Redis's default client-output-buffer-limit pubsub (32 MiB hard) disconnects every subscriber, unless the
        // guard saw the header first: either way the subscription is renewed, never read whole.
        publishRaw(a.channel(), hugeFrame());

        await().atMost(Duration.ofSeconds(30))
                .until(() -> events.stream().anyMatch(e -> e.type() == ConnectivityEvent.Type.RECONNECTED));
        assertThat(events.get(0).type()).isEqualTo(ConnectivityEvent.Type.DISCONNECTED);
        b.publish(Message.of("t", "after the cut"));
        await().until(() -> onA.texts().contains("after the cut"));
    }

    /**
     * Lettuce buffered the whole message and the old code copied it once more: a receiver with a 48 MiB heap lost
     * it (Lettuce handed the listener null after its allocation failed) and counted nothing.
     */
    @Test
    void hugeFrame_toAReceiverWithASmallHeap_isRejectedWithoutOutOfMemory() throws Exception {
        send("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0");
        RedisBackplane b = signed("b");
        awaitHealthy(b);
        try (ChildJvm child = ChildJvm.start(
                RedisFrameReceiverChild.class,
                "small-heap",
                List.of("-Xmx48m", "-XX:MaxDirectMemorySize=512m"),
                owned.host(),
                Integer.toString(owned.port()),
                cluster.prefix)) {
            publishRaw(b.channel(), hugeFrame());
            await().atMost(Duration.ofSeconds(60))
                    .until(() -> child.output().contains("REJECTED TOO_LARGE 1")
                            || child.output().stream().anyMatch(line -> line.contains("OutOfMemoryError")));
            // The receiver renews its subscription after the rejection; a message sent meanwhile would be missed.
            await().atMost(Duration.ofSeconds(30)).until(() -> child.output().contains("CONNECTIVITY RECONNECTED"));
            b.publish(Message.of("t", "after the huge frame"));

            await().atMost(Duration.ofSeconds(30))
                    .until(() -> child.output().contains("GOT after the huge frame")
                            || child.output().stream().anyMatch(line -> line.contains("OutOfMemoryError")));
            assertThat(child.output()).noneMatch(line -> line.contains("OutOfMemoryError"));
            assertThat(child.output()).contains("REJECTED TOO_LARGE 1", "GOT after the huge frame");
            assertThat(child.process().isAlive()).isTrue();
        }
    }

    /** One frame of one envelope of 64 MiB - 6 bytes, as a publisher with a huge limit would send. */
    static byte[] hugeFrame() {
        byte[] frame = new byte[HUGE];
        ByteBuffer.wrap(frame).put((byte) 'C').put((byte) 'B').putInt(HUGE - 6);
        return frame;
    }

    /** A frame announcing an envelope of 2^31 - 1 bytes, followed by {@code tail}. */
    static byte[] lyingFrame(byte[] tail) {
        return ByteBuffer.allocate(2 + 4 + tail.length)
                .put((byte) 'C')
                .put((byte) 'B')
                .putInt(Integer.MAX_VALUE)
                .put(tail)
                .array();
    }

    /**
     * A replica with a PING timeout long enough for 64 MiB to arrive: the PING queues behind the message, and on a
     * loaded machine the transfer can take longer than the cluster's usual 1 s, which would renew the subscription
     * and lose the message mid-way.
     */
    private RedisBackplane signed(String name) {
        return cluster.replica(
                cluster.connector(),
                name,
                builder -> builder.secret(SECRET).ping(Duration.ofSeconds(1), Duration.ofSeconds(20)));
    }

    private void publishRaw(String channel, byte[] message) {
        try (RespClient client = owned.client()) {
            client.send("PUBLISH".getBytes(StandardCharsets.UTF_8), channel.getBytes(StandardCharsets.UTF_8), message);
        }
    }

    private void send(String... command) {
        try (RespClient client = owned.client()) {
            assertThat(client.send(command).isError()).isFalse();
        }
    }

    private static void awaitHealthy(RedisBackplane... backplanes) {
        for (RedisBackplane backplane : backplanes) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> backplane.health().isHealthy());
        }
    }
}
