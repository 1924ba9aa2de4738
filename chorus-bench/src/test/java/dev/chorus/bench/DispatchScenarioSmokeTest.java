package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the dispatch scenario in {@code --quick} mode and checks the shape of its table and that every
 * dispatch was delivered, never its timings. Skipped when PostgreSQL or Redis does not answer.
 */
class DispatchScenarioSmokeTest {

    @TempDir
    Path results;

    @Test
    void run_quick_reportsDispatchAndOneHopPerTransportWithEveryDispatchDelivered() {
        String unavailable = BenchPostgres.unavailableReason() != null
                ? BenchPostgres.unavailableReason()
                : BenchRedis.unavailableReason();
        Assumptions.assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setProperty(ResultsDirectory.PROPERTY, results.toString());
        int exit;
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            exit = Bench.run(new String[] {"--quick", DispatchScenario.NAME}, out);
        } finally {
            System.clearProperty(ResultsDirectory.PROPERTY);
        }
        String output = printed.toString(StandardCharsets.UTF_8);
        System.out.print(output);

        assertThat(exit).as(output).isEqualTo(Bench.OK);
        List<List<String>> rows = output.lines()
                .filter(line -> line.startsWith("| " + DispatchScenario.NAME + " "))
                .map(line -> Arrays.stream(line.split("\\|"))
                        .map(String::strip)
                        .skip(1)
                        .toList())
                .toList();
        assertThat(rows)
                .extracting(row -> row.get(1))
                .containsExactly(
                        "inprocess dispatch",
                        "inprocess dispatch",
                        "inprocess one hop",
                        "postgres dispatch",
                        "postgres dispatch",
                        "postgres one hop",
                        "redis dispatch",
                        "redis dispatch",
                        "redis one hop");
        assertThat(rows).allSatisfy(row -> {
            assertThat(row.get(3)).as("messages in %s", row).isEqualTo("300");
            assertThat(row.get(8)).as("undelivered in %s", row).isEqualTo("0");
        });
        assertThat(rows.get(0).get(9)).contains("× one hop");
    }
}
