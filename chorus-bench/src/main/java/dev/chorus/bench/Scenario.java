package dev.chorus.bench;

import java.util.List;

/** One end-to-end measurement that {@link Bench} can run by name, each variant side by side. */
public interface Scenario {

    /** The name used on the command line and in result file names, for example {@code inprocess}. */
    String name();

    /** One line saying what is measured. */
    String description();

    /** How to read the rows (what latency spans, what loss means); markdown, may be empty. */
    default String legend() {
        return "";
    }

    /** Runs every variant and mode once, warmups included, and returns one row per variant and mode. */
    List<ResultRow> run(BenchConfig config);
}
