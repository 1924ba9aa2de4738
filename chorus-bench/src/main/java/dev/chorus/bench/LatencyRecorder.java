package dev.chorus.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Latencies recorded in nanoseconds and reported in microseconds rounded to 0.1 µs.
 *
 * <p>Not thread-safe: give each recording thread its own and {@link #merged merge} them once the threads
 * have finished (a handoff such as {@link DeliveryCounter} makes their writes visible).
 */
final class LatencyRecorder {

    /** Longer than any delivery a healthy run sees; longer values are clamped to it rather than lost. */
    private static final long HIGHEST_NANOS = TimeUnit.SECONDS.toNanos(60);

    // Three significant digits keep every reported value within 0.1 %, finer than the 0.1 µs printed.
    private final Histogram histogram = new Histogram(HIGHEST_NANOS, 3);

    /** Records one latency; negative values (clock skew between cores) count as 0. */
    void record(long nanos) {
        histogram.recordValue(Math.min(Math.max(nanos, 0), HIGHEST_NANOS));
    }

    /** Forgets everything recorded; only while no thread records. */
    void reset() {
        histogram.reset();
    }

    /** How many latencies were recorded. */
    long count() {
        return histogram.getTotalCount();
    }

    /** The latency at {@code percentile} (0 to 100) in µs, or {@code NaN} when nothing was recorded. */
    double percentileMicros(double percentile) {
        return count() == 0 ? Double.NaN : toMicros(histogram.getValueAtPercentile(percentile));
    }

    /** The largest latency in µs, or {@code NaN} when nothing was recorded. */
    double maxMicros() {
        return count() == 0 ? Double.NaN : toMicros(histogram.getMaxValue());
    }

    /** A new recorder holding everything the given recorders hold. */
    static LatencyRecorder merged(List<LatencyRecorder> recorders) {
        LatencyRecorder merged = new LatencyRecorder();
        for (LatencyRecorder recorder : recorders) {
            merged.histogram.add(recorder.histogram);
        }
        return merged;
    }

    private static double toMicros(long nanos) {
        return Math.round(nanos / 100.0) / 10.0;
    }
}
