package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the Redis scenario in {@code --quick} mode against the server {@code -Dchorus.bench.redis} names (local
 * by default) and checks the shape of its table and that Chorus lost nothing, never its timings. A raw
 * baseline may report loss (a subscriber cut off by Redis); that is a finding, not a failure. Skipped when no
 * server answers.
 */
class RedisScenariosSmokeTest {

    @TempDir
    Path results;

    @BeforeAll
    static void requireRedis() {
        String unavailable = BenchRedis.unavailableReason();
        if (unavailable != null) {
            System.out.println("RedisScenariosSmokeTest skipped: " + unavailable);
        }
        Assumptions.assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
    }

    @Test
    void run_quickThroughput_reportsEveryVariantInEveryModeAndChorusLosesNothing() {
        String sync = RawRedisFanOut.Publishing.SYNC.variant;
        String pipelined = RawRedisFanOut.Publishing.PIPELINED.variant;

        List<List<String>> rows = run(RedisThroughputScenario.NAME);

        assertThat(rows)
                .extracting(row -> row.get(1) + " / " + row.get(2).replaceAll(" \\(.*\\)$", ""))
                .containsExactly(
                        "chorus / " + RedisThroughputScenario.ONE_AT_A_TIME,
                        sync + " / " + RedisThroughputScenario.ONE_AT_A_TIME,
                        "chorus / " + RedisThroughputScenario.MAX_RATE,
                        sync + " / " + RedisThroughputScenario.MAX_RATE,
                        pipelined + " / " + RedisThroughputScenario.MAX_RATE,
                        "chorus / " + RedisThroughputScenario.HALF_RAW_RATE,
                        sync + " / " + RedisThroughputScenario.HALF_RAW_RATE);
        assertThat(rows).filteredOn(row -> row.get(1).equals("chorus")).allSatisfy(row -> {
            assertThat(row.get(8)).as("chorus loss in %s", row).isEqualTo("0");
            assertThat(row.get(9)).as("notes").doesNotContain("STALLED");
        });
        assertThat(rows)
                .filteredOn(row -> row.get(2).startsWith(RedisThroughputScenario.MAX_RATE))
                .first()
                .satisfies(row -> assertThat(row.get(9)).contains("target ≥ 0.8× raw sync"));
    }

    /** Runs one scenario quickly and returns the cells of its rows, each checked for data. */
    private List<List<String>> run(String scenario) {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int exit;
        System.setProperty(ResultsDirectory.PROPERTY, results.toString());
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            exit = Bench.run(new String[] {"--quick", scenario}, out);
        } finally {
            System.clearProperty(ResultsDirectory.PROPERTY);
        }
        String output = printed.toString(StandardCharsets.UTF_8);
        System.out.print(output);

        // FAILED is allowed: it also means a raw baseline reported loss, checked row by row by the caller.
        assertThat(exit).as(output).isIn(Bench.OK, Bench.FAILED);
        assertThat(output).as(output).doesNotContain("Could not write");
        List<List<String>> rows = output.lines()
                .filter(line -> line.startsWith("| " + scenario + " "))
                .map(line -> Arrays.stream(line.substring(1, line.length() - 1).split("(?<!\\\\)\\|"))
                        .map(String::strip)
                        .toList())
                .toList();
        assertThat(rows).as(output).isNotEmpty().allSatisfy(row -> {
            assertThat(row.get(1)).as("variant").doesNotStartWith("skipped");
            assertThat(Long.parseLong(row.get(3).replace(",", "")))
                    .as("messages in %s", row)
                    .isPositive();
        });
        return rows;
    }
}
