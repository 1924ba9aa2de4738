package dev.chorus.redis;

import static org.awaitility.Awaitility.await;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Subscriber;
import dev.chorus.testkit.ChildJvm;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.Rejection;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A signed Redis backplane in its own JVM, for {@link RedisFrameLimitsIT}: started with a small heap, it prints
 * {@code GOT <text>} for every message on topic {@code t} and {@code REJECTED <reason> <count>} whenever a rejection
 * count changes, until its stdin closes.
 *
 * <p>Arguments: Redis host, port, key prefix.
 */
public final class RedisFrameReceiverChild {

    private RedisFrameReceiverChild() {}

    /** Receives until told to close. */
    public static void main(String[] args) throws Exception {
        ReplicaId self = ReplicaId.random("receiver");
        try (RedisConnector connector = RedisConnector.builder("redis://" + args[0] + ":" + args[1])
                        .prefix(args[2])
                        .build();
                RedisBackplane backplane = RedisBackplane.builder(connector)
                        .replica(self)
                        .secret(RedisFrameLimitsIT.SECRET)
                        .backoff(new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1)))
                        .ping(Duration.ofSeconds(1), Duration.ofSeconds(20))
                        .build()) {
            backplane.subscribe("t", new Subscriber() {
                @Override
                public void onMessage(Envelope envelope) {
                    System.out.println("GOT " + envelope.payloadAsString());
                }
            });
            backplane.onConnectivity(event -> System.out.println("CONNECTIVITY " + event.type()));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> backplane.health().isHealthy());
            ScheduledExecutorService reporter = Executors.newSingleThreadScheduledExecutor();
            Map<Rejection, Long> printed = new HashMap<>();
            reporter.scheduleWithFixedDelay(() -> report(backplane, printed), 0, 50, TimeUnit.MILLISECONDS);
            ChildJvm.ready(self.uuid());
            ChildJvm.awaitClose();
            reporter.shutdownNow();
        }
        ChildJvm.closed();
    }

    private static void report(RedisBackplane backplane, Map<Rejection, Long> printed) {
        for (Map.Entry<Rejection, Long> entry : backplane.stats().rejected().entrySet()) {
            if (!Objects.equals(printed.put(entry.getKey(), entry.getValue()), entry.getValue())) {
                System.out.println("REJECTED " + entry.getKey() + " " + entry.getValue());
            }
        }
    }
}
