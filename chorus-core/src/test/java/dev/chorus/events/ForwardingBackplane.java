package dev.chorus.events;

import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.BackplaneStats;
import dev.chorus.backplane.ConnectivityListener;
import dev.chorus.backplane.Message;
import dev.chorus.backplane.Subscriber;
import dev.chorus.health.Health;
import java.util.concurrent.CompletableFuture;

/** A real backplane passed through as it is: fault injectors override what they tamper with. */
abstract class ForwardingBackplane implements Backplane {

    protected final Backplane delegate;

    ForwardingBackplane(Backplane delegate) {
        this.delegate = delegate;
    }

    @Override
    public Subscription subscribe(String topic, Subscriber subscriber) {
        return delegate.subscribe(topic, subscriber);
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
