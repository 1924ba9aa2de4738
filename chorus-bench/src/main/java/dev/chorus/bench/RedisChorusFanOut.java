package dev.chorus.bench;

import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.wire.Envelope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Chorus on Redis: one publishing replica and one replica per receiver, each a {@code RedisBackplane} with its
 * own {@code RedisConnector} and default settings, under a prefix of their own. Every receiver subscribes to
 * the topic; the publisher does not (its backplane still subscribes to the channel, for canaries).
 */
final class RedisChorusFanOut implements FanOut {

    static final String TOPIC = "bench.redis";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final List<BenchRedis.Replica> replicas = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final LongAdder lossSignals = new LongAdder();
    private final Backplane publisher;

    RedisChorusFanOut(BenchRedis redis, int receiverCount) {
        String prefix = redis.uniquePrefix("chorus");
        try {
            BenchRedis.Replica publishing = redis.replica("publisher", prefix);
            replicas.add(publishing);
            publisher = publishing.backplane();
            for (int i = 0; i < receiverCount; i++) {
                BenchRedis.Replica replica = redis.replica("receiver-" + i, prefix);
                replicas.add(replica);
                Receiver receiver = new Receiver();
                receivers.add(receiver);
                replica.backplane().subscribe(TOPIC, new Subscriber() {
                    @Override
                    public void onMessage(Envelope envelope) {
                        long now = System.nanoTime();
                        receiver.accept(envelope.payload(), now);
                    }

                    @Override
                    public void onMissed(Missed missed) {
                        lossSignals.increment();
                    }
                });
            }
            Readiness.awaitEachHearsTheOthers(
                    replicas.stream().map(BenchRedis.Replica::backplane).toList(), CONNECT_TIMEOUT);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public String variant() {
        return "chorus";
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        // publish() only enqueues; a full queue or a failed PUBLISH is counted by the backplane, see lossSignals.
        publisher.publish(Message.of(TOPIC, payload));
    }

    @Override
    public long lossSignals() {
        return lossSignals.sum() + publisher.stats().publishFailures();
    }

    @Override
    public void close() {
        replicas.forEach(BenchRedis.Replica::close);
    }
}
