package dev.chorus.membership;

import dev.chorus.Subscription;
import dev.chorus.health.HealthIndicator;
import java.util.List;
import java.util.Optional;

/**
 * The live replicas of a cluster. A replica joins when its membership starts, heartbeats while it runs,
 * and leaves when closed; one that stops heartbeating expires.
 *
 * <p>Used for instance counts, the max-instances guard, version and key checks, dispatch and cluster
 * verification.
 */
public interface Membership extends HealthIndicator, AutoCloseable {

    /** This replica as others see it. */
    Member self();

    /** Every live replica, this one included, oldest first. */
    List<Member> members();

    /** One live replica by id. */
    default Optional<Member> member(dev.chorus.ReplicaId id) {
        return members().stream().filter(m -> m.id().equals(id)).findFirst();
    }

    /** How many replicas are live, this one included. */
    default int liveCount() {
        return members().size();
    }

    /** Registers a listener for joins and leaves. */
    Subscription onChange(MembershipListener listener);

    /** Leaves the cluster cleanly (others see {@link MembershipListener.LeaveReason#LEFT}); idempotent. */
    @Override
    void close();
}
