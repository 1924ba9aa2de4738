/**
 * The health model shared by every component: {@link dev.chorus.health.Health} with a {@link
 * dev.chorus.health.Health.Status} of HEALTHY, DEGRADED or DOWN, a reason and details; components expose it
 * through {@link dev.chorus.health.HealthIndicator}.
 */
@NullMarked
package dev.chorus.health;

import org.jspecify.annotations.NullMarked;
