package dev.chorus.cache;

import dev.chorus.ReplicaId;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/*
 * Invariants:
 *
 * - listed is the last membership snapshot minus this replica: every replica that could write to the storage this
 *   cache fronts. The cache re-reads it on every membership event and every watch tick, so a replica membership
 *   lists is seen here within one watch period of membership seeing it.
 * - A listed replica the cache has no heartbeat deadline for is unheard: it may write through a backplane this one
 *   cannot reach (another CHORUS_BACKPLANE or channel, a JGroups view that lacks it), and then nothing invalidates
 *   what it changes. The cache does not trust itself while any replica is unheard.
 *   A listed replica whose deadline passed is unheard too (a partition after it was heard), for health; its
 *   deadline already stops trust.
 * - No grace for a replica just listed: membership may list it only after it began to write, so waiting would
 *   let a stale value outlive the bound. A join costs the other replicas at most a heartbeat interval of bypassed
 *   reads.
 * - A replica in departed is no writer even while listed: it said goodbye (its server stops taking requests before
 *   its cache closes) or membership saw it leave. Hearing it again, or membership announcing it again, undoes that.
 * - unheardSince (under the cache's trust lock, like every map passed in) says since when, for reasons and health.
 */

/** The replicas membership lists as live that a {@link ReplicatedCache} does not hear: writers it cannot vouch for. */
final class Writers {

    private final @Nullable Membership membership;
    private final ReplicaId self;
    private volatile List<ReplicaId> listed = List.of();
    private final Map<ReplicaId, Long> unheardSince = new LinkedHashMap<>();

    Writers(@Nullable Membership membership, ReplicaId self) {
        this.membership = membership;
        this.self = self;
    }

    /** Re-reads membership; keeps the last list when it cannot be read (membership says why in its health). */
    void refresh() {
        Membership m = membership;
        if (m == null) {
            return;
        }
        try {
            List<ReplicaId> ids = new ArrayList<>();
            for (Member member : m.members()) {
                if (!member.id().equals(self)) {
                    ids.add(member.id());
                }
            }
            listed = List.copyOf(ids);
        } catch (RuntimeException e) {
            // The last list stands: forgetting replicas because a read failed would trust too much.
        }
    }

    /**
     * Under the trust lock: the replica unheard for longest, or null when every listed replica is heard (its
     * deadline in {@code heardUntil} not yet passed) or departed. Records since when each unheard replica is so:
     * when it was last heard, else when it was first found unheard.
     */
    @Nullable
    ReplicaId firstUnheard(
            Map<ReplicaId, Long> heardUntil, Map<ReplicaId, Long> lastHeard, Set<ReplicaId> departed, long now) {
        List<ReplicaId> current = listed;
        unheardSince
                .keySet()
                .removeIf(id -> heard(heardUntil, id, now) || departed.contains(id) || !current.contains(id));
        @Nullable ReplicaId first = null;
        long firstSince = 0;
        for (ReplicaId id : current) {
            if (heard(heardUntil, id, now) || departed.contains(id)) {
                continue;
            }
            Long last = lastHeard.get(id);
            long since = unheardSince.computeIfAbsent(id, k -> last != null ? last : now);
            if (first == null || since - firstSince < 0) {
                first = id;
                firstSince = since;
            }
        }
        return first;
    }

    private static boolean heard(Map<ReplicaId, Long> heardUntil, ReplicaId id, long now) {
        Long deadline = heardUntil.get(id);
        return deadline != null && now - deadline < 0;
    }

    /** Under the trust lock: how long {@code id} has been unheard, as of the last {@link #firstUnheard}. */
    long unheardFor(ReplicaId id, long now) {
        Long since = unheardSince.get(id);
        return since == null ? 0 : now - since;
    }

    /** Under the trust lock: every unheard replica and for how long, as of the last {@link #firstUnheard}. */
    Map<ReplicaId, Duration> unheard(long now) {
        Map<ReplicaId, Duration> out = new LinkedHashMap<>();
        unheardSince.forEach((id, since) -> out.put(id, Duration.ofNanos(Math.max(0, now - since))));
        return out;
    }
}
