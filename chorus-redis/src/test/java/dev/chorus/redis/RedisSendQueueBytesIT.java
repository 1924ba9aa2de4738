package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig;
import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.PublishFailedException;
import dev.chorus.testkit.FaultProxy;
import dev.chorus.testkit.TestRedis;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: while Redis does not answer, the publish queue fills in bytes long before its envelope count, and
 * a publish past the byte bound fails at once naming the setting; once Redis answers again the queue drains.
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
        FaultProxy proxy = cluster.proxy();
        RedisBackplane b = cluster.replica(
                cluster.connector(proxy.host(), proxy.port(), cluster.prefix),
                "b",
                builder -> builder.secret(new Secret("chorus-test-secret-0123456789"))
                        .maxInFlight(1)
                        .sendQueueBytes(256 * KIB));
        await().atMost(Duration.ofSeconds(20)).until(() -> b.health().isHealthy());
        // Redis stops answering: the one PUBLISH in flight waits, and what follows queues.
        proxy.freeze();

        // The first goes out as the PUBLISH in flight (unless a canary is); the next two fill 200 of 256 KiB.
        List<CompletableFuture<Void>> accepted = new ArrayList<>();
        CompletableFuture<Void> refused = null;
        for (int i = 0; i < 8 && refused == null; i++) {
            CompletableFuture<Void> sent = b.publish(Message.of("t", new byte[100 * KIB]));
            if (sent.isCompletedExceptionally()) {
                refused = sent;
            } else {
                accepted.add(sent);
            }
        }

        assertThat(refused)
                .as("a publish past 256 KiB queued is refused at once")
                .isNotNull();
        assertThat(accepted).hasSizeBetween(2, 3); // 2 when a canary held the PUBLISH in flight
        Throwable cause = refused.handle((ok, e) -> e).join();
        assertThat(cause instanceof CompletionException ? cause.getCause() : cause)
                .isInstanceOf(PublishFailedException.class)
                .hasMessageContaining("bound of " + 256 * KIB + " bytes")
                .hasMessageContaining(ChorusConfig.SEND_QUEUE_BYTES);
        assertThat(b.stats().publishFailures()).isEqualTo(1);
        // What was queued when the publish was refused, as the refusal says it: the one snapshot taken at that
        // instant. A reply already past the proxy when it froze may still free the PUBLISH in flight a moment
        // later and move one queued envelope out (the health detail then shows 100 KiB): that is the queue
        // draining, not the bound failing.
        Matcher waiting =
                Pattern.compile("(\\d+) envelopes of (\\d+) bytes are waiting").matcher(cause.getMessage());
        assertThat(waiting.find()).as(cause.getMessage()).isTrue();
        assertThat(Long.parseLong(waiting.group(2))).isBetween(200L * KIB, 256L * KIB);
        assertThat((Long) b.health().details().get("publishQueueBytes")).isBetween(100L * KIB, 256L * KIB);

        proxy.heal();
        for (CompletableFuture<Void> sent : accepted) {
            assertThat(sent).succeedsWithin(Duration.ofSeconds(30));
        }
        assertThat(b.publish(Message.of("t", new byte[100 * KIB]))).succeedsWithin(Duration.ofSeconds(30));
    }
}
