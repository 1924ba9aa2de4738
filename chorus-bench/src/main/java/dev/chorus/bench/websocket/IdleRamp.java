package dev.chorus.bench.websocket;

import dev.chorus.bench.ResultRow;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import org.jspecify.annotations.Nullable;

/**
 * Grows the number of idle sockets on one server size by size and measures the server's footprint at each,
 * starting from a zero-socket baseline taken after a warm-up (so class loading and pools that the first
 * sockets create are not counted per socket).
 */
final class IdleRamp {

    static final int WARMUP_SOCKETS = 200;

    private static final Duration OPEN_TIMEOUT = Duration.ofMinutes(4);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    private static final double KIB = 1024;
    private static final double MIB = 1024 * 1024;

    /** The footprint at one size. */
    record Point(int sockets, MeasuredServer.Footprint footprint) {}

    /**
     * What a ramp found.
     *
     * @param reached the largest size at which every socket held its hello
     * @param heapSlopeKiB least-squares heap per socket over the sizes measured, NaN with fewer than two
     * @param rssSlopeKiB the same for the resident set
     */
    record Result(List<ResultRow> rows, List<Point> points, int reached, double heapSlopeKiB, double rssSlopeKiB) {}

    private IdleRamp() {}

    /**
     * Runs the ramp; {@code chorus} is the server's HTTP side when it has one, to read its sink gauge.
     *
     * @throws IOException when the server's footprint cannot be read
     */
    static Result run(
            String scenario,
            String variant,
            MeasuredServer server,
            FleetProcess fleet,
            List<Integer> sizes,
            @Nullable ChorusHttp chorus)
            throws IOException {
        fleet.call("open " + WARMUP_SOCKETS + " " + OPEN_TIMEOUT.toMillis(), OPEN_TIMEOUT);
        fleet.call("close " + CLOSE_TIMEOUT.toMillis(), CLOSE_TIMEOUT);
        if (chorus != null) {
            Gauges.awaitZero(chorus, Duration.ofSeconds(30));
        }
        List<ResultRow> rows = new ArrayList<>();
        List<Point> points = new ArrayList<>();
        MeasuredServer.Footprint zero = server.footprint();
        points.add(new Point(0, zero));
        rows.add(new ResultRow(
                scenario,
                variant,
                "idle, 0 sockets",
                0,
                Double.NaN,
                Double.NaN,
                Double.NaN,
                Double.NaN,
                0,
                String.format(
                        Locale.ROOT,
                        "baseline after %d sockets opened and closed: heap %.1f MiB, RSS %.1f MiB",
                        WARMUP_SOCKETS,
                        zero.heapBytes() / MIB,
                        zero.rssBytes() / MIB)));
        int reached = 0;
        int previous = 0;
        for (int size : sizes) {
            Map<String, String> opened = fleet.call("open " + size + " " + OPEN_TIMEOUT.toMillis(), OPEN_TIMEOUT);
            int ready = Integer.parseInt(opened.get("ready"));
            long failed = Long.parseLong(opened.get("failed"));
            double seconds = Math.max(Long.parseLong(opened.get("ms")), 1) / 1000.0;
            MeasuredServer.Footprint footprint = server.footprint();
            Map<String, String> after = fleet.call("stats");
            int held = Math.min(ready, Integer.parseInt(after.get("ready")));
            points.add(new Point(size, footprint));
            StringBuilder notes = new StringBuilder(String.format(
                    Locale.ROOT,
                    "heap %.1f MiB (%+.1f KiB/socket over 0 sockets), RSS %.1f MiB (%+.1f KiB/socket)",
                    footprint.heapBytes() / MIB,
                    (footprint.heapBytes() - zero.heapBytes()) / KIB / size,
                    footprint.rssBytes() / MIB,
                    (footprint.rssBytes() - zero.rssBytes()) / KIB / size));
            if (chorus != null) {
                OptionalDouble sinks = chorus.gauge(Gauges.SINKS);
                if (sinks.isPresent()) {
                    notes.append(String.format(Locale.ROOT, "; %,.0f hub sinks", sinks.getAsDouble()));
                }
            }
            notes.append("; keepalive pings so far: server ")
                    .append(after.get("serverPings"))
                    .append(", client ")
                    .append(after.get("pings"));
            if (failed > 0 || held < size) {
                notes.append(String.format(
                        Locale.ROOT,
                        "; STOPPED: %,d of %,d sockets held a hello, %,d failed (first error: %s), %s dropped",
                        held,
                        size,
                        failed,
                        opened.get("error"),
                        after.get("dropCodes")));
            }
            rows.add(new ResultRow(
                    scenario,
                    variant,
                    String.format(Locale.ROOT, "idle, %,d sockets", size),
                    held,
                    (ready - previous) / seconds,
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    size - held,
                    notes.toString()));
            if (held < size) {
                break;
            }
            reached = size;
            previous = ready;
        }
        List<Point> sized = points.subList(1, points.size());
        List<Point> fitted = sized.size() >= 2 ? sized : points;
        return new Result(rows, points, reached, slope(fitted, true) / KIB, slope(fitted, false) / KIB);
    }

    /** Least-squares slope of heap (or RSS) bytes over sockets; NaN with fewer than two sizes. */
    static double slope(List<Point> points, boolean heap) {
        if (points.size() < 2) {
            return Double.NaN;
        }
        double meanX = points.stream().mapToDouble(Point::sockets).average().orElseThrow();
        double meanY =
                points.stream().mapToDouble(p -> bytes(p, heap)).average().orElseThrow();
        double covariance = 0;
        double variance = 0;
        for (Point p : points) {
            covariance += (p.sockets() - meanX) * (bytes(p, heap) - meanY);
            variance += (p.sockets() - meanX) * (p.sockets() - meanX);
        }
        return variance == 0 ? Double.NaN : covariance / variance;
    }

    private static double bytes(Point point, boolean heap) {
        return heap ? point.footprint().heapBytes() : point.footprint().rssBytes();
    }
}
