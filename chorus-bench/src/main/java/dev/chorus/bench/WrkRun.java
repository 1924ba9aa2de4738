package dev.chorus.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One run of the {@code wrk} HTTP benchmarking tool, when it is on the {@code PATH}, with the numbers read
 * back from its {@code --latency} report: an outside cross-check of {@link HttpLoad}.
 *
 * @param requests requests wrk completed
 * @param perSecond its {@code Requests/sec}
 * @param p50Micros its 50 % latency
 * @param p99Micros its 99 % latency
 * @param maxMicros its largest latency
 * @param errors non-2xx/3xx responses plus socket errors (connect, read, write, timeout)
 */
record WrkRun(long requests, double perSecond, double p50Micros, double p99Micros, double maxMicros, long errors) {

    private static final String COMMAND = "wrk";
    private static final Pattern DURATION = Pattern.compile("([0-9.]+)(us|ms|s|m|h)");
    private static final Pattern PERCENTILE = Pattern.compile("^\\s*(50|99)(?:\\.0+)?%\\s+(\\S+)\\s*$");
    private static final Pattern LATENCY_STATS =
            Pattern.compile("^\\s*Latency\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+\\S+\\s*$");
    private static final Pattern REQUESTS = Pattern.compile("^\\s*(\\d+) requests in ");
    private static final Pattern PER_SECOND = Pattern.compile("^Requests/sec:\\s+([0-9.]+)");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");
    private static final Pattern SOCKET_ERRORS =
            Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");

    /** Whether {@code wrk} can be started here; a fresh machine may not have it. */
    static boolean available() {
        try {
            Process process = new ProcessBuilder(COMMAND, "--version")
                    .redirectErrorStream(true)
                    .start();
            process.getInputStream().readAllBytes();
            // It prints its version and usage, then exits with 1: having started it is the answer.
            return process.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Runs {@code wrk} against {@code url} with {@code connections} connections on up to {@code threads}
     * threads for {@code seconds} whole seconds, sending {@code headers}.
     *
     * @throws IllegalStateException when wrk fails or its report cannot be read
     */
    static WrkRun run(String url, Map<String, String> headers, int threads, int connections, int seconds) {
        List<String> command = new ArrayList<>(List.of(
                COMMAND,
                "-t" + Math.min(threads, connections),
                "-c" + connections,
                "-d" + seconds + "s",
                "--timeout",
                "30s",
                "--latency"));
        headers.forEach((name, value) -> {
            command.add("-H");
            command.add(name + ": " + value);
        });
        command.add(url);
        String output;
        try {
            Process process =
                    new ProcessBuilder(command).redirectErrorStream(true).start();
            output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("wrk did not finish");
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("wrk exited with " + process.exitValue() + ": " + output.strip());
            }
        } catch (IOException e) {
            throw new IllegalStateException("wrk could not be run: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while wrk ran", e);
        }
        return parse(output);
    }

    /** Reads wrk's {@code --latency} report. */
    static WrkRun parse(String output) {
        double p50 = Double.NaN;
        double p99 = Double.NaN;
        double max = Double.NaN;
        long requests = -1;
        double perSecond = Double.NaN;
        long errors = 0;
        for (String line : output.split("\n")) {
            Matcher m;
            if ((m = PERCENTILE.matcher(line)).matches()) {
                double micros = micros(m.group(2));
                if (m.group(1).equals("50")) {
                    p50 = micros;
                } else {
                    p99 = micros;
                }
            } else if ((m = LATENCY_STATS.matcher(line)).matches()) {
                max = micros(m.group(3));
            } else if ((m = REQUESTS.matcher(line)).find()) {
                requests = Long.parseLong(m.group(1));
            } else if ((m = PER_SECOND.matcher(line)).find()) {
                perSecond = Double.parseDouble(m.group(1));
            } else if ((m = NON_2XX.matcher(line)).find()) {
                errors += Long.parseLong(m.group(1));
            } else if ((m = SOCKET_ERRORS.matcher(line)).find()) {
                for (int i = 1; i <= 4; i++) {
                    errors += Long.parseLong(m.group(i));
                }
            }
        }
        if (requests < 0 || Double.isNaN(perSecond) || Double.isNaN(p99)) {
            throw new IllegalStateException("unreadable wrk report: " + output.strip());
        }
        return new WrkRun(requests, perSecond, p50, p99, max, errors);
    }

    /** A wrk duration such as {@code 512.00us}, {@code 1.84ms} or {@code 2.01s}, in microseconds. */
    private static double micros(String text) {
        Matcher m = DURATION.matcher(text.toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return Double.NaN;
        }
        double value = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> value;
            case "ms" -> value * 1_000;
            case "s" -> value * 1_000_000;
            case "m" -> value * 60_000_000;
            default -> value * 3_600_000_000.0;
        };
    }

    /** Why wrk cannot be used here, or null when it can. */
    static @Nullable String unavailableReason() {
        return available() ? null : "wrk is not on the PATH";
    }
}
