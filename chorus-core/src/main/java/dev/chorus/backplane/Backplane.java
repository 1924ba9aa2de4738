package dev.chorus.backplane;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.health.HealthIndicator;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;

/**
 * How replicas of one cluster send each other messages: publish to a topic, subscribe to a topic, report
 * health and connectivity.
 *
 * <p>Guarantees every transport gives (proved by the compatibility kit in {@code chorus-testkit}):
 *
 * <ul>
 *   <li>A replica's own subscribers receive its own messages, exactly once, without a round trip through
 *       the transport and even while the transport is down.
 *   <li>Envelopes from one origin on one topic reach a subscriber in the order they were published.
 *   <li>Loss is never silent: a sequence gap, a new epoch, a reconnect or a full delivery queue reaches
 *       every affected subscription as {@link Subscriber#onMissed}.
 *   <li>Bytes that are not a valid envelope of this cluster are dropped and counted, never delivered.
 * </ul>
 */
public interface Backplane extends HealthIndicator, AutoCloseable {

    /** A backplane for one replica alone: the embedded default, nothing leaves the process. */
    static Backplane inProcess() {
        // Found through ServiceLoader so that this SPI package does not depend on the transport below it.
        return ServiceLoader.load(InProcessBackplaneFactory.class, InProcessBackplaneFactory.class.getClassLoader())
                .findFirst()
                .orElseThrow(() -> new ChorusException("No in-process transport on the classpath: the service file"
                        + " META-INF/services/" + InProcessBackplaneFactory.class.getName()
                        + " of chorus-core is missing; a fat jar must merge service files (maven-shade-plugin's"
                        + " ServicesResourceTransformer)"))
                .create();
    }

    /** This replica. */
    ReplicaId replica();

    /** The cluster (channel) name shared by every replica that should hear each other. */
    String cluster();

    /** The transport's name for logs and health: {@code inprocess}, {@code postgres}, {@code redis}, ... */
    String backend();

    /**
     * Publishes {@code message} to every replica's subscribers of its topic, this replica's included.
     *
     * <p>Local subscribers have the message queued before this method returns. The future completes when
     * the transport has sent it to the other replicas, or fails with {@link PublishFailedException} when it
     * could not.
     *
     * @throws BackplaneClosedException when the backplane is closed
     * @throws dev.chorus.wire.EnvelopeTooLargeException when the message exceeds the size limit
     */
    CompletableFuture<Void> publish(Message message);

    /** Subscribes to {@code topic}; {@code subscriber} runs on the subscription's own thread. */
    Subscription subscribe(String topic, Subscriber subscriber);

    /** Registers a listener for connection loss and recovery. */
    Subscription onConnectivity(ConnectivityListener listener);

    /**
     * HEALTHY when messages flow to the other replicas, DEGRADED with the reason when they may not, DOWN
     * once closed.
     */
    @Override
    Health health();

    /** Counters since start. */
    BackplaneStats stats();

    /** Stops sending and receiving and releases connections; idempotent. */
    @Override
    void close();
}
