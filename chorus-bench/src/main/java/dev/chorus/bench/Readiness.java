package dev.chorus.bench;

import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Waits until replicas that connect in the background really hear each other, so no measured message is
 * published before a receiver listens.
 */
final class Readiness {

    private static final String TOPIC = "bench.ready";
    private static final Duration PROBE_INTERVAL = Duration.ofMillis(100);

    private Readiness() {}

    /**
     * Every replica publishes a probe, again every 100 ms, until each has received one from every other.
     * Only delivery proves a replica listens: health turns HEALTHY on LISTEN, but a probe also proves the
     * publisher's path. Probes lost before a replica listened surface as onMissed on this topic only.
     *
     * @throws IllegalStateException when that does not happen within {@code timeout}
     */
    static void awaitEachHearsTheOthers(List<? extends Backplane> replicas, Duration timeout) {
        int pairs = replicas.size() * (replicas.size() - 1);
        CountDownLatch heard = new CountDownLatch(pairs);
        Set<String> seen = ConcurrentHashMap.newKeySet();
        List<Subscription> subscriptions = new ArrayList<>();
        for (Backplane replica : replicas) {
            subscriptions.add(replica.subscribe(TOPIC, envelope -> {
                if (!envelope.isFrom(replica.replica()) && seen.add(replica.replica() + "<" + envelope.origin())) {
                    heard.countDown();
                }
            }));
        }
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                replicas.forEach(replica -> replica.publish(Message.of(TOPIC, new byte[0])));
                if (heard.await(PROBE_INTERVAL.toNanos(), TimeUnit.NANOSECONDS)) {
                    return;
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("Replicas did not hear each other within " + timeout + " ("
                            + (pairs - heard.getCount()) + " of " + pairs + " pairs connected)");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for replicas to connect", e);
        } finally {
            subscriptions.forEach(Subscription::close);
        }
    }
}
