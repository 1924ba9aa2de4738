package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig;
import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.health.Health;
import dev.chorus.testkit.TestRedis;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: while Redis is unreachable, the publish queue fills in bytes long before its envelope count, and
 * a publish past the byte bound fails at once naming the setting; once Redis is back the queue drains.
 */
class RedisSendQueueBytesIT {

    private static final int KIB = 1024;

    private final TestRedis.Embedded owned = TestRedis.startEmbedded();
    private final RedisTestCluster cluster = new RedisTestCluster(owned, "rsqb");

    @AfterEach
    void close() throws Exception {
        cluster.close();
        owned.close();
    }

    @Test
    void publishesPastTheSendQueuesByteBound_failAtOnce_namingTheBoundAndItsVariable() {
        owned.stop();
        RedisBackplane b = cluster.replica(
                cluster.connector(),
                "b",
                builder -> builder.secret(new Secret("chorus-test-secret-0123456789"))
                        .sendQueueBytes(256 * KIB));
        await().until(() -> b.health().status() == Health.Status.DEGRADED);

        CompletableFuture<Void> first = b.publish(Message.of("t", new byte[100 * KIB]));
        CompletableFuture<Void> second = b.publish(Message.of("t", new byte[100 * KIB]));
        CompletableFuture<Void> refused = b.publish(Message.of("t", new byte[100 * KIB]));

        assertThat(refused).isCompletedExceptionally();
        assertThat(first).isNotDone();
        assertThat(second).isNotDone();
        Throwable cause = refused.handle((ok, e) -> e).join();
        assertThat(cause instanceof CompletionException ? cause.getCause() : cause)
                .isInstanceOf(PublishFailedException.class)
                .hasMessageContaining("bound of " + 256 * KIB + " bytes")
                .hasMessageContaining(ChorusConfig.SEND_QUEUE_BYTES);
        assertThat(b.stats().publishFailures()).isEqualTo(1);
        assertThat((Long) b.health().details().get("publishQueueBytes")).isBetween(200L * KIB, 256L * KIB);

        owned.start();
        assertThat(first).succeedsWithin(Duration.ofSeconds(30));
        assertThat(second).succeedsWithin(Duration.ofSeconds(30));
        assertThat(b.publish(Message.of("t", new byte[100 * KIB]))).succeedsWithin(Duration.ofSeconds(30));
    }
}
