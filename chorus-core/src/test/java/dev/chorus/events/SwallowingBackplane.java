package dev.chorus.events;

import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.Message;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A fault injector: a real backplane that silently swallows chosen hub messages before they reach it, as
 * if they were lost above the transport. The transport never sees them, so it reports no gap: only the
 * hubs' own checks can find the loss.
 */
final class SwallowingBackplane extends ForwardingBackplane {

    private final Map<HubWire.Kind, Integer> toSwallow = new EnumMap<>(HubWire.Kind.class);

    SwallowingBackplane(Backplane delegate) {
        super(delegate);
    }

    /** Swallows the next {@code count} hub messages of {@code kind}. */
    synchronized SwallowingBackplane swallowNext(HubWire.Kind kind, int count) {
        toSwallow.merge(kind, count, Integer::sum);
        return this;
    }

    private synchronized boolean swallow(Message message) {
        HubWire.Kind kind;
        try {
            kind = HubWire.decode(message.payload()).kind();
        } catch (IllegalArgumentException notAHubMessage) {
            return false;
        }
        int left = toSwallow.getOrDefault(kind, 0);
        if (left == 0) {
            return false;
        }
        toSwallow.put(kind, left - 1);
        return true;
    }

    @Override
    public CompletableFuture<Void> publish(Message message) {
        return swallow(message) ? CompletableFuture.completedFuture(null) : delegate.publish(message);
    }
}
