package dev.chorus.server.destinations;

import dev.chorus.Backoff;
import dev.chorus.registry.ResourceStatusSource;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This replica's sender for one destination: a bounded queue drained by a virtual thread that POSTs each
 * event with an {@code Idempotency-Key}, retrying with jittered backoff on errors and 5xx/429 answers.
 * A full queue drops the new event and counts it: a slow receiver never slows the API.
 */
public final class WebhookSender implements ResourceStatusSource, AutoCloseable {

    /** Events waiting per destination and replica. */
    public static final int QUEUE_CAPACITY = 10_000;
    /** Tries per event, the first included. */
    public static final int MAX_ATTEMPTS = 5;

    private static final Logger LOG = LoggerFactory.getLogger(WebhookSender.class);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private final String id;
    private final Destination destination;
    private final URI uri;
    private final Backoff backoff;
    private final HttpClient http;
    private final BlockingQueue<Outbound> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private volatile @Nullable String lastError;
    private volatile boolean closed;
    private final Thread worker;

    /** One event to send: its idempotency key and JSON body. */
    record Outbound(String key, byte[] body) {}

    WebhookSender(String id, Destination destination, Backoff backoff, HttpClient http) {
        this.id = id;
        this.destination = destination;
        this.uri = destination.uri();
        this.backoff = backoff;
        this.http = http;
        this.worker = Thread.ofVirtual().name("chorus-webhook-" + id).start(this::run);
    }

    /** The destination it sends to. */
    public Destination destination() {
        return destination;
    }

    /** Queues an event; false (and counted) when the queue is full or the sender closed. */
    boolean offer(String key, byte[] body) {
        if (closed || !queue.offer(new Outbound(key, body))) {
            dropped.incrementAndGet();
            return false;
        }
        return true;
    }

    private void run() {
        while (!closed) {
            Outbound next;
            try {
                next = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (next != null) {
                send(next);
            }
        }
    }

    private void send(Outbound event) {
        Backoff.Attempts attempts = backoff.attempts();
        for (int attempt = 1; attempt <= MAX_ATTEMPTS && !closed; attempt++) {
            String error;
            try {
                HttpResponse<Void> response = http.send(
                        HttpRequest.newBuilder(uri)
                                .timeout(REQUEST_TIMEOUT)
                                .header("Content-Type", "application/json")
                                .header("Idempotency-Key", event.key())
                                .POST(HttpRequest.BodyPublishers.ofByteArray(event.body()))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                int status = response.statusCode();
                if (status >= 200 && status < 300) {
                    delivered.incrementAndGet();
                    return;
                }
                error = "HTTP " + status;
                if (status < 500 && status != 429 && status != 408) {
                    // The receiver refused this event; sending it again would be refused again.
                    fail(event, error);
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                error = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            }
            lastError = error;
            if (attempt < MAX_ATTEMPTS) {
                retries.incrementAndGet();
                // A deliberate pause between tries, not synchronisation.
                LockSupport.parkNanos(attempts.next().toNanos());
            }
        }
        fail(event, lastError);
    }

    private void fail(Outbound event, @Nullable String error) {
        failed.incrementAndGet();
        lastError = error;
        LOG.debug("Destination {} gave up on event {}: {}", id, event.key(), error);
    }

    @Override
    public Map<String, Long> counters() {
        return Map.of(
                "delivered", delivered.get(),
                "failed", failed.get(),
                "retries", retries.get(),
                "dropped", dropped.get(),
                "queued", (long) queue.size());
    }

    @Override
    public @Nullable String lastError() {
        return lastError;
    }

    @Override
    public void close() {
        closed = true;
        worker.interrupt();
    }
}
