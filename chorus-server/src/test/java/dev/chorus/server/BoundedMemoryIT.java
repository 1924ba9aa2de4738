package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 20, "bounded in bytes": a replica with a 384 MiB heap takes 1,000 events and 1,000 resources of about
 * 1 MiB each through its HTTP API while 50 WebSockets are open, most of them not reading, and stays up and
 * ready. Before the byte bounds its history alone (10,000 events) could hold 10 GiB.
 */
@ExtendWith(HeavyAcrossForks.class)
class BoundedMemoryIT {

    private static final Logger LOG = LoggerFactory.getLogger(BoundedMemoryIT.class);
    private static final int ITEMS = 1_000;
    private static final int SOCKETS = 50;
    private static final int FAST_SOCKETS = 5;
    private static final int PAYLOAD = 1_000_000;
    /** What the old generation held after the last collection: the heap the replica cannot let go of. */
    private static final Pattern LIVE_DATA = Pattern.compile("jvm_gc_live_data_size_bytes ([0-9.E+]+)");

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void aReplicaAt384MiB_takesAThousandEventsAndResourcesOfOneMiB_withFiftySocketsOpen_andStaysReady()
            throws Exception {
        Map<String, String> env = TestClients.sharedStorage("bytes", "postgres");
        env.put("CHORUS_CLUSTER_SECRET", "chorus-test-secret-0123456789");
        // ExitOnOutOfMemoryError, as a production replica should run: an OutOfMemoryError ends the process
        // rather than leaving it half alive, so "alive and ready" below means what it says.
        try (ServerProcess server =
                        ServerProcess.start("bytes", env, List.of("-Xmx384m", "-XX:+ExitOnOutOfMemoryError"));
                ExecutorService threads = Executors.newFixedThreadPool(8);
                ScheduledExecutorService sampler = Executors.newScheduledThreadPool(2)) {
            Api api = new Api(server.uri());
            String writer = api.token(TestClients.WRITER, TestClients.SECRET);
            String reader = api.token(TestClients.READER, TestClients.SECRET);
            List<Client> clients = new ArrayList<>();
            for (int i = 0; i < SOCKETS; i++) {
                clients.add(Client.open(server.uri(), i % 2 == 0 ? writer : reader, i < FAST_SOCKETS));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> clients.stream().allMatch(c -> c.frames.get() > 0));
            // The slow ones read a piece of a frame every 50 ms: far slower than events come, never so slow
            // that the server closes them for not reading.
            sampler.scheduleWithFixedDelay(
                    () -> clients.stream().filter(c -> !c.fast).forEach(c -> c.socket.request(1)),
                    50,
                    50,
                    TimeUnit.MILLISECONDS);

            AtomicLong peakHeap = new AtomicLong();
            sampler.scheduleWithFixedDelay(() -> sampleHeap(api, peakHeap), 0, 500, TimeUnit.MILLISECONDS);

            long started = System.nanoTime();
            String filler = "x".repeat(PAYLOAD);
            AtomicInteger next = new AtomicInteger();
            AtomicInteger done = new AtomicInteger();
            List<Future<List<Integer>>> workers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                workers.add(threads.submit(() -> {
                    List<Integer> statuses = new ArrayList<>();
                    int i;
                    while ((i = next.getAndIncrement()) < ITEMS) {
                        String data = "\"" + i + "-" + filler + "\"";
                        try {
                            statuses.add(post(server.uri(), writer, "{\"type\":\"app.big\",\"data\":" + data + "}"));
                            statuses.add(put(
                                    server.uri(),
                                    writer,
                                    "/api/resources/blob/r" + i,
                                    "{\"n\":" + i + ",\"data\":" + data + "}"));
                            statuses.add(get(server.uri(), reader, "/api/resources/blob/r" + i));
                        } catch (IOException e) {
                            // A replica exiting on OutOfMemoryError drops connections a moment before it is gone.
                            if (!server.process().waitFor(10, TimeUnit.SECONDS)) {
                                throw e;
                            }
                            // The replica died: the assertions below say so, with its last lines.
                            break;
                        }
                        done.incrementAndGet();
                    }
                    return statuses;
                }));
            }
            List<Integer> statuses = new ArrayList<>();
            for (Future<List<Integer>> worker : workers) {
                statuses.addAll(worker.get(5, TimeUnit.MINUTES));
            }
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
            sampler.shutdownNow();

            assertThat(server.process().isAlive())
                    .as(
                            "the replica is alive after %s of %s items (%s s); its last lines: %s",
                            done, ITEMS, seconds, tail(server))
                    .isTrue();
            assertThat(server.printed("OutOfMemoryError")).isFalse();
            assertThat(statuses).hasSize(3 * ITEMS).allMatch(s -> s >= 200 && s < 300, "2xx");
            HttpResponse<String> ready = HTTP.send(
                    HttpRequest.newBuilder(server.uri().resolve("/health/ready"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);

            // The fast readers get the last event; the others, stalled, lost the oldest and are told to reload.
            await().atMost(Duration.ofSeconds(60))
                    .until(() -> clients.subList(0, FAST_SOCKETS).stream().allMatch(c -> c.sawLast));
            String metrics = api.operatorGet("/metrics").body();
            LOG.info(
                    "{} events and {} resources of ~1 MiB in {} s; peak live heap after GC {} MiB; fast sockets got {}"
                            + " frames; dropped {}; history {}",
                    ITEMS,
                    ITEMS,
                    seconds,
                    peakHeap.get() >> 20,
                    clients.subList(0, FAST_SOCKETS).stream()
                            .map(c -> c.frames.get())
                            .toList(),
                    metric(metrics, "chorus_events_dropped_total{reason=\"queue_full\""),
                    metric(metrics, "chorus_events_history_bytes"));
            assertThat(metric(metrics, "chorus_events_history_bytes")).isLessThanOrEqualTo(32.0 * (1 << 20));
            assertThat(metric(metrics, "chorus_events_history_evicted_total")).isPositive();
            assertThat(metric(metrics, "chorus_cache_evictions_total")).isPositive();
            clients.forEach(Client::close);
        }
    }

    private static int post(URI base, String token, String json) throws Exception {
        return HTTP.send(
                        HttpRequest.newBuilder(base.resolve("/api/events"))
                                .header("Authorization", "Bearer " + token)
                                .header("Content-Type", "application/json")
                                .timeout(Duration.ofSeconds(60))
                                .POST(HttpRequest.BodyPublishers.ofString(json))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static int put(URI base, String token, String path, String json) throws Exception {
        return HTTP.send(
                        HttpRequest.newBuilder(base.resolve(path))
                                .header("Authorization", "Bearer " + token)
                                .header("Content-Type", "application/json")
                                .timeout(Duration.ofSeconds(60))
                                .PUT(HttpRequest.BodyPublishers.ofString(json))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static int get(URI base, String token, String path) throws Exception {
        return HTTP.send(
                        HttpRequest.newBuilder(base.resolve(path))
                                .header("Authorization", "Bearer " + token)
                                .timeout(Duration.ofSeconds(60))
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static void sampleHeap(Api api, AtomicLong peak) {
        try {
            Matcher m = LIVE_DATA.matcher(api.operatorGet("/metrics").body());
            if (m.find()) {
                peak.accumulateAndGet((long) Double.parseDouble(m.group(1)), Math::max);
            }
        } catch (RuntimeException e) {
            LOG.debug("heap sample failed: {}", e.toString());
        }
    }

    private static double metric(String metrics, String prefix) {
        return Arrays.stream(metrics.split("\n"))
                .filter(line -> line.startsWith(prefix))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
                .sum();
    }

    private static String tail(ServerProcess server) {
        List<String> lines = server.output();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /** A socket that counts frames; a fast one reads everything, a slow one what the test asks it to. */
    private static final class Client implements WebSocket.Listener {
        final AtomicInteger frames = new AtomicInteger();
        final boolean fast;
        final StringBuilder partial = new StringBuilder();
        volatile boolean sawLast;
        volatile WebSocket socket;

        private Client(boolean fast) {
            this.fast = fast;
        }

        static Client open(URI base, String token, boolean fast) throws Exception {
            Client client = new Client(fast);
            URI ws = URI.create(
                    "ws://" + base.getHost() + ":" + base.getPort() + "/ws/events?access_token=" + Api.encode(token));
            client.socket = HttpClient.newHttpClient()
                    .newWebSocketBuilder()
                    .buildAsync(ws, client)
                    .get(10, TimeUnit.SECONDS);
            return client;
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            // Only the start of a frame is kept: enough to recognise the last event without holding 1 MiB.
            if (partial.length() < 512) {
                partial.append(data, 0, Math.min(data.length(), 512));
            }
            if (last) {
                frames.incrementAndGet();
                String head = partial.toString();
                partial.setLength(0);
                if (head.contains("\"data\":\"" + (ITEMS - 1) + "-")) {
                    sawLast = true;
                }
            }
            if (fast || frames.get() == 0) {
                webSocket.request(1);
            }
            return null;
        }

        void close() {
            socket.abort();
        }
    }
}
