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
 * Runs each PostgreSQL scenario in {@code --quick} mode against the server {@code -Dchorus.bench.postgres}
 * names (local by default) and checks the shape of its table, never its timings. Skipped when no server
 * answers.
 */
class PostgresScenariosSmokeTest {

    @TempDir
    Path results;

    @BeforeAll
    static void requirePostgres() {
        String unavailable = BenchPostgres.unavailableReason();
        if (unavailable != null) {
            System.out.println("PostgresScenariosSmokeTest skipped: " + unavailable);
        }
        Assumptions.assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
    }

    @Test
    void run_quickThroughput_reportsBothVariantsInBothModesWithoutLoss() {
        List<List<String>> rows = run(PostgresThroughputScenario.NAME);

        assertThat(rows).hasSize(4);
        for (String mode : List.of("max rate", "fixed rate 5k/s")) {
            for (String variant : List.of("chorus", RawNotifyFanOut.VARIANT)) {
                assertThat(rows).anySatisfy(row -> assertThat(row.subList(1, 3)).containsExactly(variant, mode));
            }
        }
    }

    @Test
    void run_quickWriteCost_reportsFourVariantsAndDeliversEveryTransactionalMessage() {
        List<List<String>> rows = run(PostgresWriteCostScenario.NAME);

        assertThat(rows)
                .extracting(row -> row.get(1))
                .containsExactly(
                        "no chorus (baseline)",
                        "chorus OUTBOX, withOutbox connection",
                        "chorus OUTBOX, plain connection",
                        "chorus NOTIFY_IN_TRANSACTION (naive)");
        assertThat(rows.subList(1, 4))
                .allSatisfy(row -> assertThat(row.get(9)).contains("delivered to the 2nd replica"));
        assertThat(rows).allSatisfy(row -> assertThat(row.get(9)).doesNotContain("FAILED"));
    }

    @Test
    void run_quickPingPong_reportsRoundTripAndOneWayForBothVariants() {
        List<List<String>> rows = run(PostgresPingPongScenario.NAME);

        assertThat(rows).hasSize(4);
        for (String mode : List.of("round trip", "one way (round trip ÷ 2)")) {
            for (String variant : List.of("chorus", RawNotifyPingPong.VARIANT)) {
                assertThat(rows).anySatisfy(row -> assertThat(row.subList(1, 3)).containsExactly(variant, mode));
            }
        }
    }

    /** Runs one scenario quickly and returns the cells of its rows, each checked for data and zero loss. */
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

        assertThat(exit).as(output).isEqualTo(Bench.OK);
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
            assertThat(row.get(8)).as("loss in %s", row).isEqualTo("0");
        });
        return rows;
    }
}
