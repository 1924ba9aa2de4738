package dev.chorus.bench;

import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.wire.Envelope;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Chorus ping-pong on PostgreSQL: replica A publishes on {@code ping}; B's subscriber answers each with the
 * same payload on {@code pong}; A's subscriber is the one {@link Receiver}, so its latency is the round trip.
 * Both replicas share one channel, as replicas of one cluster do.
 */
final class PostgresChorusPingPong implements FanOut {

    static final String PING = "bench.ping";
    static final String PONG = "bench.pong";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);

    private final BenchPostgres.Replica a;
    private final BenchPostgres.Replica b;
    private final Receiver receiver = new Receiver();
    private final LongAdder lossSignals = new LongAdder();

    PostgresChorusPingPong(BenchPostgres postgres) {
        String channel = postgres.uniqueChannel("pingpong");
        a = postgres.replica("a", channel, builder -> builder);
        try {
            b = postgres.replica("b", channel, builder -> builder);
        } catch (RuntimeException e) {
            a.close();
            throw e;
        }
        try {
            Backplane answering = b.backplane();
            b.backplane()
                    .subscribe(PING, counting(envelope -> answering.publish(Message.of(PONG, envelope.payload()))));
            a.backplane().subscribe(PONG, counting(envelope -> {
                long now = System.nanoTime();
                receiver.accept(envelope.payload(), now);
            }));
            Readiness.awaitEachHearsTheOthers(List.of(a.backplane(), b.backplane()), CONNECT_TIMEOUT);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** {@code onMessage} plus loss signals counted. */
    private Subscriber counting(Subscriber onMessage) {
        return new Subscriber() {
            @Override
            public void onMessage(Envelope envelope) {
                onMessage.onMessage(envelope);
            }

            @Override
            public void onMissed(Missed missed) {
                lossSignals.increment();
            }
        };
    }

    @Override
    public String variant() {
        return "chorus";
    }

    @Override
    public List<Receiver> receivers() {
        return List.of(receiver);
    }

    @Override
    public void publish(byte[] payload) {
        a.backplane().publish(Message.of(PING, payload));
    }

    @Override
    public long lossSignals() {
        return lossSignals.sum()
                + a.backplane().stats().publishFailures()
                + b.backplane().stats().publishFailures();
    }

    @Override
    public void close() {
        a.close();
        b.close();
    }
}
