package dev.chorus.testing;

import java.util.Random;
import java.util.function.Consumer;
import org.opentest4j.AssertionFailedError;

/**
 * A minimal property-test runner: runs a check against many generated inputs from a seeded {@link Random}.
 *
 * <p>The seed changes every run so that, over many builds, far more inputs are tried than in one; a
 * failure prints the seed and the try, and {@code -Dchorus.seed=N} replays exactly that run. There is no
 * shrinking: generators here keep inputs small enough to read.
 */
public final class Properties {

    private Properties() {}

    /** Runs {@code check} {@code tries} times, each with a {@link Random} derived from the run's seed. */
    public static void forAll(String name, int tries, Consumer<Random> check) {
        String fixed = System.getProperty("chorus.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : new Random().nextLong();
        Random seeds = new Random(seed);
        for (int i = 0; i < tries; i++) {
            long trySeed = seeds.nextLong();
            try {
                check.accept(new Random(trySeed));
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionFailedError(
                        "Property '" + name + "' failed on try " + (i + 1) + " of " + tries
                                + "; replay with -Dchorus.seed=" + seed + ": " + e.getMessage(),
                        e);
            }
        }
    }
}
