package dev.chorus.events;

import dev.chorus.Subscription;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Missed;
import dev.chorus.backplane.Subscriber;
import dev.chorus.wire.Envelope;
import java.util.ArrayList;
import java.util.List;

/**
 * A real backplane whose incoming messages can be held back and released later, in order: a replica that
 * is behind the others (its transport is slow), without anything being lost.
 */
final class GatedBackplane extends ForwardingBackplane {

    private final List<Runnable> held = new ArrayList<>();
    private boolean holding;

    GatedBackplane(Backplane delegate) {
        super(delegate);
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
}
