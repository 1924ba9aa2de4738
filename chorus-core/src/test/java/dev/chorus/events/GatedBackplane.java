package dev.chorus.events;

import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.BackplaneStats;
import dev.chorus.backplane.ConnectivityListener;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import dev.chorus.wire.Envelope;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A real backplane whose incoming messages can be held back and released later, in order: a replica that
 * is behind the others (its transport is slow), without anything being lost.
 */
final class GatedBackplane implements Backplane {

    private final Backplane delegate;
    private final List<Runnable> held = new ArrayList<>();
    private boolean holding;

    GatedBackplane(Backplane delegate) {
        this.delegate = delegate;
    }

    /** Holds back what arrives from now on. */
    synchronized void hold() {
        holding = true;
    }

    /** Delivers what was held back, in order, then lets everything through again. */
    synchronized void release() {
        held.forEach(Runnable::run);
        held.clear();
        holding = false;
    }

    private synchronized void arrive(Runnable delivery) {
        if (holding) {
            held.add(delivery);
        } else {
            delivery.run();
        }
    }

    @Override
    public Subscription subscribe(String topic, Subscriber subscriber) {
        return delegate.subscribe(topic, new Subscriber() {
            @Override
            public void onMessage(Envelope envelope) {
                arrive(() -> subscriber.onMessage(envelope));
            }

            @Override
            public void onMissed(Missed missed) {
                arrive(() -> subscriber.onMissed(missed));
            }
        });
    }

    @Override
    public CompletableFuture<Void> publish(Message message) {
        return delegate.publish(message);
    }

    @Override
    public ReplicaId replica() {
        return delegate.replica();
    }

    @Override
    public String cluster() {
        return delegate.cluster();
    }

    @Override
    public String backend() {
        return delegate.backend();
    }

    @Override
    public Subscription onConnectivity(ConnectivityListener listener) {
        return delegate.onConnectivity(listener);
    }

    @Override
    public Health health() {
        return delegate.health();
    }

    @Override
    public BackplaneStats stats() {
        return delegate.stats();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
