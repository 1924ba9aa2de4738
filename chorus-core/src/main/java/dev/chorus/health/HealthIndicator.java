package dev.chorus.health;

/** A component that can say how well it works right now; cheap to call, never blocks on I/O. */
@FunctionalInterface
public interface HealthIndicator {

    /** The component's current health. */
    Health health();
}
