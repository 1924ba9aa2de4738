package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs the {@code cache-propagation} scenario in {@code --quick} mode, a few variants at a time, and checks
 * that every variant measured writes and saw each of them on replica B, never its timings. The Redis
 * variants are skipped when no server answers.
 */
class CachePropagationSmokeTest {

    private static final int RATE = 1_000;
    private static final int KEYS = 200;

    @Test
    void run_quickInMemoryVariants_measuresEveryWriteAndResolvesAll() {
        Set<String> variants =
                Set.of(ChorusCacheSubject.IN_PROCESS, HazelcastSubject.DEFAULTS, HazelcastSubject.BATCHING_OFF);

        List<ResultRow> rows = runQuick(variants);

        assertThat(rows).extracting(ResultRow::variant).containsExactlyInAnyOrderElementsOf(variants);
        assertThat(rows).allSatisfy(CachePropagationSmokeTest::assertMeasured);
    }

    @Test
    void run_quickRedisVariants_measuresEveryWriteAndResolvesAll() {
        String unavailable = BenchRedis.unavailableReason();
        Assumptions.assumeTrue(unavailable == null, () -> "skipped: " + unavailable);
        Set<String> variants = Set.of(ChorusCacheSubject.REDIS, RedissonSubject.NAME);

        List<ResultRow> rows = runQuick(variants);

        assertThat(rows).extracting(ResultRow::variant).containsExactlyInAnyOrderElementsOf(variants);
        assertThat(rows).allSatisfy(CachePropagationSmokeTest::assertMeasured);
    }

    @Test
    void usage_listsTheScenario() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            assertThat(Bench.run(new String[] {"--help"}, out)).isEqualTo(Bench.OK);
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("  " + CachePropagationScenario.NAME + "  ");
    }

    private static List<ResultRow> runQuick(Set<String> variants) {
        List<ResultRow> rows = new CachePropagationScenario(variants::contains, RATE, KEYS).run(new BenchConfig(true));
        System.out.print(MarkdownTable.render(rows));
        return rows;
    }

    private static void assertMeasured(ResultRow row) {
        assertThat(row.notes()).as("notes of %s", row).doesNotContain("FAILED");
        assertThat(row.messages()).as("writes measured in %s", row).isPositive();
        assertThat(row.loss()).as("stale reads never resolved in %s", row).isZero();
        assertThat(row.p50Micros()).as("p50 of %s", row).isPositive();
        assertThat(row.maxMicros()).as("max of %s", row).isGreaterThanOrEqualTo(row.p99Micros());
        if (row.variant().startsWith("chorus")) {
            // A bypassed read goes to the source: the row would time the source, not propagation.
            assertThat(row.notes()).as("notes of %s", row).contains(" 0 bypassed reads");
        }
    }
}
