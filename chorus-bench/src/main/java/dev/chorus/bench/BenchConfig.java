package dev.chorus.bench;

/**
 * How a scenario should run.
 *
 * @param quick a short run for smoke tests and quick comparisons; its numbers are noisier
 */
public record BenchConfig(boolean quick) {

    /** {@code full} for a normal run, {@code quick} for a quick one. */
    public int pick(int full, int quick) {
        return this.quick ? quick : full;
    }
}
