package dev.chorus.bench;

import java.util.Objects;

/**
 * One measured line of a scenario: a variant in one mode.
 *
 * @param scenario the scenario name
 * @param variant what was measured, for example {@code chorus} or the baseline it is compared with
 * @param mode how it was driven, for example {@code max rate}
 * @param messages messages published in the measured part (warmup excluded)
 * @param msgsPerSecond messages divided by the time until every receiver had them
 * @param p50Micros median latency in microseconds, {@code NaN} when nothing was timed
 * @param p99Micros 99th percentile latency in microseconds, {@code NaN} when nothing was timed
 * @param maxMicros largest latency in microseconds, {@code NaN} when nothing was timed
 * @param loss expected deliveries minus deliveries received; anything but 0 is a finding
 * @param notes short remarks on how the row was measured or what went wrong
 */
public record ResultRow(
        String scenario,
        String variant,
        String mode,
        long messages,
        double msgsPerSecond,
        double p50Micros,
        double p99Micros,
        double maxMicros,
        long loss,
        String notes) {

    /** Checks that the text fields are present. */
    public ResultRow {
        Objects.requireNonNull(scenario, "scenario");
        Objects.requireNonNull(variant, "variant");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(notes, "notes");
    }
}
