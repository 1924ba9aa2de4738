package dev.chorus.bench.websocket;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link SocketFleet} counts between two resets, and the reply lines that report it as {@code
 * key=value} words. Used on the fleet's selector thread only.
 */
final class FleetCounters {

    /** Longest latency recorded; longer ones are clamped to it rather than lost. */
    private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(10);

    private final Histogram latencyMicros = new Histogram(HIGHEST_MICROS, 3);
    /** Close codes of sockets the server ended, -1 for those it ended without a close frame. */
    private final Map<Integer, Integer> dropCodes = new TreeMap<>();

    private long sinceMicros;
    private long hellos;
    private long events;
    private long staleEvents;
    private long reloads;
    private long drops;
    private long failures;
    private long pings;
    private long serverPings;
    private long lastEventNanos;
    private @Nullable String firstError;

    /** Forgets everything; events stamped before {@code since} (epoch µs) count as stale from now on. */
    void reset(long since) {
        sinceMicros = since;
        latencyMicros.reset();
        dropCodes.clear();
        hellos = events = staleEvents = reloads = drops = failures = pings = serverPings = 0;
        firstError = null;
    }

    /** An event frame stamped {@code t} (epoch µs, -1 when unstamped) arrived now. */
    void event(long t) {
        if (t >= 0 && t < sinceMicros) {
            staleEvents++;
            return;
        }
        events++;
        lastEventNanos = System.nanoTime();
        if (t > 0) {
            latencyMicros.recordValue(Math.min(Math.max(SocketFleet.epochMicros() - t, 0), HIGHEST_MICROS));
        }
    }

    void hello() {
        hellos++;
    }

    void reload() {
        reloads++;
    }

    void ping() {
        pings++;
    }

    void serverPing() {
        serverPings++;
    }

    /** The server ended a socket that had its hello, with {@code code} (-1 without a close frame). */
    void drop(int code) {
        drops++;
        dropCodes.merge(code, 1, Integer::sum);
    }

    /** A connection ended before its hello. */
    void failure(String error) {
        failures++;
        if (firstError == null) {
            firstError = error;
        }
    }

    long events() {
        return events;
    }

    long failures() {
        return failures;
    }

    long lastEventNanos() {
        return lastEventNanos;
    }

    /** Starts the quiet period of a drain from now. */
    void quietFromNow() {
        lastEventNanos = System.nanoTime();
    }

    String firstError() {
        return word(firstError);
    }

    /** The reply to {@code stats}; latencies in µs, -1 when none was recorded. */
    String stats(int ready) {
        return "ready=" + ready + " hellos=" + hellos + " events=" + events + " stale=" + staleEvents + " reloads="
                + reloads + " drops=" + drops + " dropCodes=" + codes() + " failed=" + failures + " pings=" + pings
                + " serverPings=" + serverPings + " samples=" + latencyMicros.getTotalCount() + " p50="
                + value(latencyMicros, 50) + " p99=" + value(latencyMicros, 99) + " max=" + max(latencyMicros)
                + " error=" + firstError();
    }

    /**
     * The reply to {@code storm}: per socket that dropped, the time from {@code killMicros} to its new hello,
     * or to the reload frame that followed it.
     */
    String storm(List<ClientSocket> sockets, long killMicros, int ready) {
        Histogram recovered = new Histogram(HIGHEST_MICROS, 3);
        int back = 0;
        int resumed = 0;
        int reloaded = 0;
        int notDropped = 0;
        long attempts = 0;
        for (ClientSocket socket : sockets) {
            attempts += socket.attempts;
            if (socket.droppedAtMicros == 0) {
                notDropped++;
            } else if (socket.backAtMicros > 0) {
                back++;
                long at = socket.reloadAtMicros > 0 ? socket.reloadAtMicros : socket.backAtMicros;
                recovered.recordValue(Math.min(Math.max(at - killMicros, 0), HIGHEST_MICROS));
                if (socket.reloadAtMicros > 0) {
                    reloaded++;
                } else {
                    resumed++;
                }
            }
        }
        return "clients=" + sockets.size() + " back=" + back + " resumed=" + resumed + " reloaded=" + reloaded
                + " unconnected=" + (sockets.size() - back - notDropped) + " notDropped=" + notDropped
                + " attempts=" + attempts + " ready=" + ready + " p50=" + value(recovered, 50) + " p99="
                + value(recovered, 99) + " max=" + max(recovered) + " error=" + firstError();
    }

    private String codes() {
        StringBuilder text = new StringBuilder();
        dropCodes.forEach((code, count) -> text.append(text.isEmpty() ? "" : ",")
                .append(code < 0 ? "eof" : code.toString())
                .append(':')
                .append(count));
        return text.isEmpty() ? "-" : text.toString();
    }

    private static long value(Histogram histogram, double percentile) {
        return histogram.getTotalCount() == 0 ? -1 : histogram.getValueAtPercentile(percentile);
    }

    private static long max(Histogram histogram) {
        return histogram.getTotalCount() == 0 ? -1 : histogram.getMaxValue();
    }

    /** Free text as one word of a reply line. */
    private static String word(@Nullable String text) {
        return text == null ? "-" : text.replaceAll("\\s+", "_");
    }
}
