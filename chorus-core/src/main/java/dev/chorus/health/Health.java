package dev.chorus.health;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The state of one component: a status, a reason a person can act on, and details (backend, counts,
 * thresholds) for dashboards.
 *
 * @param status how well the component works
 * @param reason why it is not healthy, or "ok"
 * @param details small values for operators: strings, numbers, booleans; insertion order kept
 */
public record Health(Status status, String reason, Map<String, Object> details) {

    /** How well a component works, from best to worst; the order is used to aggregate. */
    public enum Status {
        /** Working as designed. */
        HEALTHY,
        /** Working with reduced guarantees (for example: cross-replica traffic is not flowing). */
        DEGRADED,
        /** Not working. */
        DOWN
    }

    /** Copies the details so a health value never changes after it was built. */
    public Health {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(reason, "reason");
        details = Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    /** Healthy, without details. */
    public static Health healthy() {
        return new Health(Status.HEALTHY, "ok", Map.of());
    }

    /** Healthy, with details. */
    public static Health healthy(Map<String, Object> details) {
        return new Health(Status.HEALTHY, "ok", details);
    }

    /** Degraded for {@code reason}. */
    public static Health degraded(String reason) {
        return new Health(Status.DEGRADED, reason, Map.of());
    }

    /** Down for {@code reason}. */
    public static Health down(String reason) {
        return new Health(Status.DOWN, reason, Map.of());
    }

    /** This health with one more detail. */
    public Health withDetail(String key, Object value) {
        Map<String, Object> copy = new LinkedHashMap<>(details);
        copy.put(key, value);
        return new Health(status, reason, copy);
    }

    /** Whether the status is {@link Status#HEALTHY}. */
    public boolean isHealthy() {
        return status == Status.HEALTHY;
    }

    /** The worst status among {@code parts}; HEALTHY when there are none. */
    public static Status worst(Collection<Health> parts) {
        Status worst = Status.HEALTHY;
        for (Health part : parts) {
            if (part.status.compareTo(worst) > 0) {
                worst = part.status;
            }
        }
        return worst;
    }
}
