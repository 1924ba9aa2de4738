package dev.chorus.bench.websocket;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The client process of the {@code websocket-scale} scenario: {@code FleetMain <source prefix> <sockets per
 * source>} runs a {@link SocketFleet} and takes one command per line on stdin, answering each with one line
 * on stdout, {@code ok ...} or {@code error ...}. It exits when stdin closes, so it never outlives the bench.
 *
 * <pre>
 * target HOST PORT PATH                  where new sockets connect
 * token TOKEN                            the access_token of new sockets
 * keepalive MILLIS                       ping a socket the server has been silent on this long
 * open N TIMEOUT_MS                      ready=.. failed=.. ms=.. complete=.. error=..
 * close TIMEOUT_MS                       close every socket (closing handshake)
 * reset SINCE_EPOCH_MICROS               zero the counters; older events are stale
 * drain EXPECTED QUIET_MS MAX_MS         wait for events
 * stats                                  ready=.. events=.. reloads=.. drops=.. p50=.. p99=.. max=.. (µs)
 * arm HOST PORT JITTER_MS WINDOW_MS      reconnect dropped sockets there, with their last event id
 * storm KILL_EPOCH_MICROS MAX_MS SETTLE_MS   clients=.. back=.. resumed=.. reloaded=.. p50=.. (µs since kill)
 * </pre>
 */
final class FleetMain {

    /** Longer than any command's own timeout: a reply that takes this long means the fleet is stuck. */
    private static final long SLACK_MILLIS = 30_000;

    private FleetMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: FleetMain <source prefix such as 127.0.1.> <sockets per source address>");
            System.exit(2);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (SocketFleet fleet = new SocketFleet(args[0], Integer.parseInt(args[1]));
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] words = line.strip().split("\\s+");
                if (words[0].equals("quit")) {
                    break;
                }
                out.println(answer(fleet, words));
            }
        }
        // The fleet's selector thread is not a daemon; without this a stuck socket could keep the JVM alive.
        System.exit(0);
    }

    private static String answer(SocketFleet fleet, String[] words) {
        try {
            long timeout = timeout(words);
            CompletableFuture<String> reply = switch (words[0]) {
                case "target" -> fleet.target(words[1], Integer.parseInt(words[2]), words[3]);
                case "token" -> fleet.token(words[1]);
                case "keepalive" -> fleet.keepalive(Long.parseLong(words[1]));
                case "open" -> fleet.open(Integer.parseInt(words[1]), timeout);
                case "close" -> fleet.closeAll(timeout);
                case "reset" -> fleet.reset(Long.parseLong(words[1]));
                case "drain" -> fleet.drain(Long.parseLong(words[1]), Long.parseLong(words[2]), timeout);
                case "stats" -> fleet.stats();
                case "arm" ->
                    fleet.arm(
                            words[1], Integer.parseInt(words[2]), Integer.parseInt(words[3]), Long.parseLong(words[4]));
                case "storm" -> fleet.stormReport(Long.parseLong(words[1]), timeout, Long.parseLong(words[3]));
                default -> throw new IllegalArgumentException("unknown command '" + words[0] + "'");
            };
            return "ok " + reply.get(timeout + SLACK_MILLIS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return "error " + oneLine(e.getCause());
        } catch (TimeoutException e) {
            return "error no reply from the fleet within its timeout plus " + SLACK_MILLIS + " ms";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "error interrupted";
        } catch (RuntimeException e) {
            return "error " + oneLine(e);
        }
    }

    /** The command's own timeout in milliseconds, from its position in the line, or 0. */
    private static long timeout(String[] words) {
        int at = switch (words[0]) {
            case "open", "storm" -> 2;
            case "drain" -> 3;
            case "close" -> 1;
            default -> -1;
        };
        return at > 0 && at < words.length ? Long.parseLong(words[at]) : 0;
    }

    private static String oneLine(Throwable error) {
        return String.valueOf(error).replaceAll("\\s+", " ");
    }
}
