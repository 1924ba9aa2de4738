/**
 * Benchmarks: end-to-end {@link dev.chorus.bench.Scenario scenarios} (in-process and on PostgreSQL) run by
 * {@link dev.chorus.bench.Bench} (each measured next to a hand-written baseline in the same run, printed and
 * saved as markdown) and JMH micro benchmarks such as {@link dev.chorus.bench.EnvelopeCodecBenchmark}, reached
 * through {@code Bench jmh}.
 */
@NullMarked
package dev.chorus.bench;

import org.jspecify.annotations.NullMarked;
