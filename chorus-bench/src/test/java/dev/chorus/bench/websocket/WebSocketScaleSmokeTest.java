package dev.chorus.bench.websocket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.chorus.bench.Bench;
import dev.chorus.bench.BenchConfig;
import dev.chorus.bench.ResultRow;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs {@code websocket-scale} at a few dozen sockets: the raw Jetty baseline and a reference server in
 * processes of their own, the client fleet in a third, one broadcast rate; no reconnect storm (it needs the
 * launcher and HAProxy). Checks the rows, never the numbers.
 */
class WebSocketScaleSmokeTest {

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void run_fewSockets_measuresBothServersAndBroadcastsWithoutLoss() {
        WebSocketScaleScenario.Settings settings =
                new WebSocketScaleScenario.Settings(List.of(20, 50), List.of(10), 20, Duration.ofSeconds(2), 0);

        List<ResultRow> rows = new WebSocketScaleScenario(settings).run(new BenchConfig(true));
        rows.forEach(System.out::println);

        assertThat(rows)
                .extracting(ResultRow::variant, ResultRow::mode)
                .containsExactly(
                        tuple(WebSocketScaleScenario.RAW, "idle, 0 sockets"),
                        tuple(WebSocketScaleScenario.RAW, "idle, 20 sockets"),
                        tuple(WebSocketScaleScenario.RAW, "idle, 50 sockets"),
                        tuple(WebSocketScaleScenario.RAW, "slope over 2 sizes"),
                        tuple(WebSocketScaleScenario.CHORUS, "idle, 0 sockets"),
                        tuple(WebSocketScaleScenario.CHORUS, "idle, 20 sockets"),
                        tuple(WebSocketScaleScenario.CHORUS, "idle, 50 sockets"),
                        tuple(WebSocketScaleScenario.CHORUS, "slope over 2 sizes"),
                        tuple(WebSocketScaleScenario.CHORUS, "broadcast 10/s to 50 sockets"),
                        tuple(WebSocketScaleScenario.CHORUS, "broadcast 10/s to 20 sockets"));
        assertThat(rows).allSatisfy(row -> {
            assertThat(row.loss()).as("loss in %s", row).isZero();
            assertThat(row.notes()).as("notes of %s", row).doesNotContain("FAILED", "STOPPED");
        });
        assertThat(rows.get(6).notes()).contains("heap ").contains("RSS ").contains("50 hub sinks");
        assertThat(rows.get(8).messages()).isEqualTo(20L * 50);
        assertThat(rows.get(8).p99Micros()).isPositive();
        assertThat(rows.get(8).maxMicros()).isGreaterThanOrEqualTo(rows.get(8).p99Micros());
    }

    @Test
    void usage_listsTheScenario() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            assertThat(Bench.run(new String[] {"--help"}, out)).isEqualTo(Bench.OK);
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("  " + WebSocketScaleScenario.NAME + "  ");
    }
}
