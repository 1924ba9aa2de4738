package dev.chorus.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** Repeated failures slow a client id and an address down, doubling, capped; a success clears the id. */
class FailureThrottleTest {

    private Instant now = Instant.parse("2026-12-07T00:00:00Z");
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    };
    private final FailureThrottle throttle = new FailureThrottle(clock);

    @Test
    void freeFailures_thenDoublingWaits_cappedAtAMinute_andASuccessClearsTheClient() {
        for (int i = 0; i < FailureThrottle.FREE_PER_CLIENT; i++) {
            throttle.failed("web", "10.0.0." + i);
        }
        assertThat(throttle.waitFor("web", "10.0.0.9")).isZero();

        throttle.failed("web", "10.0.0.9");
        assertThat(throttle.waitFor("web", "10.0.0.9")).isEqualTo(Duration.ofSeconds(1));
        throttle.failed("web", "10.0.0.9");
        assertThat(throttle.waitFor("web", "10.0.0.9")).isEqualTo(Duration.ofSeconds(2));
        for (int i = 0; i < 20; i++) {
            throttle.failed("web", "10.0.0." + (10 + i));
        }
        assertThat(throttle.waitFor("web", "10.0.0.9")).isEqualTo(FailureThrottle.MAX_WAIT);
        assertThat(throttle.waitFor("other", "10.0.0.99"))
                .as("another client elsewhere")
                .isZero();

        now = now.plus(FailureThrottle.MAX_WAIT);
        assertThat(throttle.waitFor("web", "10.0.0.99")).isZero();
        throttle.succeeded("web");
        throttle.failed("web", "10.0.0.98");
        assertThat(throttle.waitFor("web", "10.0.0.98"))
                .as("cleared by the success")
                .isZero();
    }

    @Test
    void oneAddress_isSlowedDown_afterMoreFailuresThanOneClient() {
        for (int i = 0; i < FailureThrottle.FREE_PER_ADDRESS; i++) {
            throttle.failed("client-" + i, "192.0.2.1");
        }
        assertThat(throttle.waitFor("fresh", "192.0.2.1")).isZero();
        throttle.failed("client-x", "192.0.2.1");
        assertThat(throttle.waitFor("fresh", "192.0.2.1")).isEqualTo(Duration.ofSeconds(1));
        assertThat(throttle.waitFor("fresh", "192.0.2.2")).isZero();
    }
}
