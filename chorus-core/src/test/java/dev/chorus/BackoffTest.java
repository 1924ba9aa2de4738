package dev.chorus;

import static dev.chorus.testing.Properties.forAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {

    @Test
    void defaults_startAtOneSecondAndCapAtThirty() {
        Backoff backoff = Backoff.defaults();

        assertThat(backoff.ceiling(0)).isEqualTo(Duration.ofSeconds(1));
        assertThat(backoff.ceiling(1)).isEqualTo(Duration.ofSeconds(2));
        assertThat(backoff.ceiling(4)).isEqualTo(Duration.ofSeconds(16));
        assertThat(backoff.ceiling(5)).isEqualTo(Duration.ofSeconds(30));
        assertThat(backoff.ceiling(1_000)).isEqualTo(Duration.ofSeconds(30));
        assertThat(backoff.ceiling(Integer.MAX_VALUE)).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void delay_usesTheFullJitterRange() {
        Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));

        assertThat(backoff.delay(3, bound -> 0)).isEqualTo(Duration.ZERO);
        assertThat(backoff.delay(3, bound -> bound)).isEqualTo(Duration.ofMillis(800));
        assertThat(backoff.delay(3, bound -> Long.MAX_VALUE)).isEqualTo(Duration.ofMillis(800));
        assertThat(backoff.delay(3, bound -> -5)).isEqualTo(Duration.ZERO);
    }

    @Test
    void delay_isAlwaysWithinZeroAndTheCeiling() {
        forAll("backoff bounds", 10_000, random -> {
            Duration first = Duration.ofMillis(1 + random.nextInt(5_000));
            Duration cap = first.plusMillis(random.nextInt(120_000));
            Backoff backoff = new Backoff(first, cap);
            int attempt = random.nextInt(200);
            Duration delay = backoff.delay(attempt);
            assertThat(delay).isBetween(Duration.ZERO, backoff.ceiling(attempt));
            assertThat(backoff.ceiling(attempt)).isLessThanOrEqualTo(cap);
            assertThat(backoff.ceiling(attempt)).isGreaterThanOrEqualTo(first);
        });
    }

    @Test
    void delay_spreadsOverTheRange() {
        Backoff backoff = Backoff.defaults();
        long below = 0;
        long above = 0;
        for (int i = 0; i < 2_000; i++) {
            if (backoff.delay(0).compareTo(Duration.ofMillis(500)) < 0) {
                below++;
            } else {
                above++;
            }
        }
        // Full jitter is uniform: both halves of [0, 1s] get a fair share (p < 1e-40 to fail by chance).
        assertThat(below).isBetween(600L, 1_400L);
        assertThat(above).isBetween(600L, 1_400L);
    }

    @Test
    void attempts_growThenResetAfterSuccess() {
        Backoff.Attempts attempts = new Backoff(Duration.ofMillis(10), Duration.ofMillis(40)).attempts();

        attempts.next();
        attempts.next();
        attempts.next();
        assertThat(attempts.count()).isEqualTo(3);

        attempts.reset();
        assertThat(attempts.count()).isZero();
        assertThat(attempts.next()).isLessThanOrEqualTo(Duration.ofMillis(10));
    }

    @Test
    void constructor_rejectsNonsenseWithAnExample() {
        assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofSeconds(1)))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("positive")
                .hasMessageContaining("1s");
        assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(5), Duration.ofSeconds(1)))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("cap");
    }
}
