package dev.chorus.bench;

import dev.chorus.bench.websocket.WebSocketScaleScenario;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The benchmark launcher: {@code Bench [--quick] [scenario ...]} runs end-to-end scenarios (all when none
 * is named) and {@code Bench jmh [JMH options]} runs the JMH micro benchmarks.
 */
public final class Bench {

    /** Exit code: every scenario ran, no loss. */
    public static final int OK = 0;
    /** Exit code: a scenario reported loss, or its results could not be written. */
    public static final int FAILED = 1;
    /** Exit code: the command line was wrong. */
    public static final int USAGE = 2;

    private static final DateTimeFormatter HEADER_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z");
    private static final DateTimeFormatter FILE_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private static final List<Scenario> SCENARIOS = List.of(
            new InProcessScenario(),
            new EventFanOutScenario(),
            new PostgresThroughputScenario(),
            new PostgresWriteCostScenario(),
            new PostgresPingPongScenario(),
            new RedisThroughputScenario(),
            new JGroupsThroughputScenario(),
            new CachePropagationScenario(),
            new DispatchScenario(),
            new HttpReadsScenario(),
            new FailoverScenario(),
            new RollingRestartScenario(),
            new WebSocketScaleScenario());

    private Bench() {}

    /** Runs {@link #run} and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    /**
     * Runs what {@code args} ask for, printing to {@code out} (JMH prints to {@code System.out}), and returns
     * the process exit code.
     */
    public static int run(String[] args, PrintStream out) {
        if (args.length > 0 && args[0].equals("jmh")) {
            return runJmh(Arrays.copyOfRange(args, 1, args.length), out);
        }
        boolean quick = false;
        Map<String, Scenario> selected = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.equals("--quick")) {
                quick = true;
            } else if (arg.equals("--help") || arg.equals("-h")) {
                out.print(usage());
                return OK;
            } else {
                Scenario scenario = find(arg);
                if (scenario == null) {
                    out.println("Unknown scenario or option '" + arg + "'.");
                    out.print(usage());
                    return USAGE;
                }
                selected.put(scenario.name(), scenario);
            }
        }
        List<Scenario> scenarios = selected.isEmpty() ? SCENARIOS : List.copyOf(selected.values());
        return runScenarios(scenarios, new BenchConfig(quick), out);
    }

    private static int runScenarios(List<Scenario> scenarios, BenchConfig config, PrintStream out) {
        ZonedDateTime started = ZonedDateTime.now();
        String header = "Chorus bench · " + HEADER_TIME.format(started) + " · JVM " + Runtime.version() + " ("
                + System.getProperty("java.vm.vendor") + ", " + System.getProperty("java.vm.name") + ") · "
                + Runtime.getRuntime().availableProcessors() + " CPUs · --quick " + (config.quick() ? "on" : "off");
        out.println(header);
        out.println();
        Path directory = ResultsDirectory.resolve();
        int exit = OK;
        for (Scenario scenario : scenarios) {
            List<ResultRow> rows = scenario.run(config);
            String title = scenario.name() + " — " + scenario.description();
            String body = body(rows, scenario.legend());
            out.print("## " + title + "\n\n" + body);
            long lossy = rows.stream().filter(row -> row.loss() != 0).count();
            if (lossy > 0) {
                out.println("LOSS: " + lossy + " row(s) of " + scenario.name() + " did not deliver everything.");
                exit = FAILED;
            }
            Path file = directory.resolve(scenario.name() + "-" + FILE_TIME.format(started) + ".md");
            try {
                write(file, "# " + title + "\n\n" + header + "\n\n" + body);
                out.println("Written to " + file);
            } catch (IOException e) {
                out.println("Could not write " + file + ": " + e + " (set -D" + ResultsDirectory.PROPERTY
                        + "=DIR to write elsewhere)");
                exit = FAILED;
            }
            out.println();
        }
        return exit;
    }

    /** A scenario's section under its title: table and legend. */
    private static String body(List<ResultRow> rows, String legend) {
        StringBuilder text = new StringBuilder(MarkdownTable.render(rows));
        if (!legend.isBlank()) {
            text.append('\n').append(legend.strip()).append('\n');
        }
        return text.toString();
    }

    /** Writes via a temporary file, so a results directory never holds half a file. */
    private static void write(Path file, String text) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temporary, text, StandardCharsets.UTF_8);
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static int runJmh(String[] jmhArgs, PrintStream out) {
        try {
            org.openjdk.jmh.Main.main(jmhArgs);
            return OK;
        } catch (IOException e) {
            out.println("JMH failed: " + e.getMessage());
            return FAILED;
        }
    }

    private static @Nullable Scenario find(String name) {
        for (Scenario scenario : SCENARIOS) {
            if (scenario.name().equals(name)) {
                return scenario;
            }
        }
        return null;
    }

    private static String usage() {
        List<String> lines = new ArrayList<>();
        lines.add("Usage: java -jar benchmarks.jar [--quick] [scenario ...]   run scenarios (all when none named)");
        lines.add(
                "       java -jar benchmarks.jar jmh [JMH options] [regex]   run JMH benchmarks (jmh -h for options)");
        lines.add("Scenarios:");
        SCENARIOS.forEach(s -> lines.add("  " + s.name() + "  " + s.description()));
        lines.add("Results go to chorus-bench/results/, or to -D" + ResultsDirectory.PROPERTY + "=DIR.");
        return lines.stream().collect(Collectors.joining("\n", "", "\n"));
    }
}
