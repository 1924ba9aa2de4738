package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs the {@code http-reads} scenario in {@code --quick} mode at one connection count, without wrk, and checks
 * that every variant answered every request with a 200 and that cached reads came from the cache, never its
 * timings. Skipped when PostgreSQL does not answer.
 */
class HttpReadsSmokeTest {

    @Test
    void run_quick_measuresEveryVariantWithoutErrorsAndCachedReadsHitTheCache() {
        String unavailable = BenchPostgres.unavailableReason();
        Assumptions.assumeTrue(unavailable == null, () -> "skipped: " + unavailable);

        List<ResultRow> rows = new HttpReadsScenario(List.of(4), false, false).run(new BenchConfig(true));
        System.out.print(MarkdownTable.render(rows));

        assertThat(rows)
                .extracting(ResultRow::variant)
                .containsExactly(HttpReadsScenario.HEALTH, HttpReadsScenario.CACHED, HttpReadsScenario.BYPASS);
        assertThat(rows).allSatisfy(row -> {
            assertThat(row.mode()).isEqualTo("4 connections");
            assertThat(row.messages()).as("requests in %s", row).isPositive();
            assertThat(row.loss()).as("errors in %s", row).isZero();
            assertThat(row.notes()).as("notes of %s", row).doesNotContain("FAILED");
            assertThat(row.maxMicros()).as("max of %s", row).isGreaterThanOrEqualTo(row.p99Micros());
        });
        assertThat(rows.get(1).notes()).contains("× bypass req/s").contains(" 0 misses, 0 bypassed");
        assertThat(rows.get(2).notes()).contains("cache not read");
    }

    @Test
    void usage_listsTheScenario() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            assertThat(Bench.run(new String[] {"--help"}, out)).isEqualTo(Bench.OK);
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("  " + HttpReadsScenario.NAME + "  ");
    }
}
