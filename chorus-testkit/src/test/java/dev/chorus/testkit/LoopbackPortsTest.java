package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LoopbackPortsTest {

    /**
     * Tests take all their members' ports before starting any member, so a port must not come back while
     * nothing binds it: 500 picks, each with its companion, are 1,000 distinct ports (random picks that were
     * merely free would collide almost surely).
     */
    @Test
    void portsAndTheirCompanionsAreNeverHandedOutTwice() {
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 500; i++) {
            int port = LoopbackPorts.free(100);
            assertThat(port).isBetween(20_000, 32_000);
            assertThat(seen.add(port)).as("port %d handed out twice", port).isTrue();
            assertThat(seen.add(port + 100))
                    .as("companion %d handed out twice", port + 100)
                    .isTrue();
        }
    }
}
