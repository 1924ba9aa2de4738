package dev.chorus.local;

import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.internal.SerialExecutor;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One replica's view of a {@link LocalCluster}'s members. */
final class LocalMembership implements Membership {

    private static final Logger LOG = LoggerFactory.getLogger(LocalMembership.class);

    private final LocalMembershipHub hub;
    private final Member self;
    private final List<MembershipListener> listeners = new CopyOnWriteArrayList<>();
    private final SerialExecutor notifier = new SerialExecutor("chorus-membership");
    private final AtomicBoolean closed = new AtomicBoolean();

    LocalMembership(LocalMembershipHub hub, Member self) {
        this.hub = hub;
        this.self = self;
        hub.register(this);
    }

    @Override
    public Member self() {
        return self;
    }

    @Override
    public List<Member> members() {
        return hub.members();
    }

    @Override
    public Subscription onChange(MembershipListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    void dispatch(Consumer<MembershipListener> event) {
        for (MembershipListener listener : listeners) {
            notifier.execute(() -> {
                try {
                    event.accept(listener);
                } catch (RuntimeException e) {
                    LOG.warn("Membership listener threw; ignored", e);
                }
            });
        }
    }

    @Override
    public Health health() {
        if (closed.get()) {
            return Health.down("left the cluster");
        }
        return Health.healthy(
                Map.of("backend", "inprocess", "members", hub.members().size()));
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            hub.unregister(this);
            hub.leave(self.id(), LeaveReason.LEFT);
        }
    }
}
