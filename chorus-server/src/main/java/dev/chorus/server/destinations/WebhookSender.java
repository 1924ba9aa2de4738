package dev.chorus.server.destinations;

import dev.chorus.Backoff;
import dev.chorus.registry.ResourceStatusSource;
import java.net.URI;
import java.time.Clock;
import java.util.LinkedHashMap;
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
 * event signed ({@link WebhookSignature}) and with an {@code Idempotency-Key}, retrying with jittered
 * backoff on network errors and 5xx/408/429 answers. A full queue drops the new event and counts it: a slow
 * receiver never slows the API. Every attempt resolves and checks the host again ({@link WebhookClient}).
 *
 * <p>Its last error is {@code "<class>: <detail>"} ({@link DeliveryFailure}); the routes show tenants the
 * class only.
 */
public final class WebhookSender implements ResourceStatusSource, AutoCloseable {

    /** Events waiting per destination and replica. */
    public static final int QUEUE_CAPACITY = 10_000;
    /** Tries per event, the first included. */
    public static final int MAX_ATTEMPTS = 5;

    private static final Logger LOG = LoggerFactory.getLogger(WebhookSender.class);

    private final String id;
    private final Destination destination;
    private final String secret;
    private final URI uri;
    private final Backoff backoff;
    private final WebhookClient http;
    private final Clock clock;
    private final BlockingQueue<Outbound> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private volatile @Nullable String lastError;
    private volatile boolean closed;
    private final Thread worker;

    /** One event to send: its idempotency key, its {@code webhook-id} and JSON body. */
    record Outbound(String key, String messageId, byte[] body) {}

    WebhookSender(String id, Destination destination, String secret, Backoff backoff, WebhookClient http, Clock clock) {
        this.id = id;
        this.destination = destination;
        this.secret = secret;
        this.uri = destination.uri();
        this.backoff = backoff;
        this.http = http;
        this.clock = clock;
        this.worker = Thread.ofVirtual().name("chorus-webhook-" + id).start(this::run);
    }

    /** The destination it sends to. */
    public Destination destination() {
        return destination;
    }

    /** Queues an event; false (and counted) when the queue is full or the sender closed. */
    boolean offer(String key, byte[] body) {
        if (closed || !queue.offer(new Outbound(key, WebhookSignature.messageId(id, key), body))) {
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
            DeliveryFailure failure;
            String detail;
            try {
                WebhookClient.Response response = http.post(uri, headers(event), event.body());
                failure = DeliveryFailure.ofStatus(response.status());
                if (failure == null) {
                    delivered.incrementAndGet();
                    return;
                }
                detail = "HTTP " + response.status()
                        + (response.location() == null
                                ? ""
                                : " to " + WebhookClient.printable(response.location())
                                        + " (redirects are not followed)");
            } catch (WebhookClient.Failure e) {
                failure = e.kind();
                detail = e.getMessage();
            }
            lastError = failure.describe(detail);
            if (!failure.retried()) {
                // The receiver refused this event, or the target may not be reached: a retry meets the same.
                break;
            }
            if (attempt < MAX_ATTEMPTS) {
                retries.incrementAndGet();
                // A deliberate pause between tries, not synchronisation.
                LockSupport.parkNanos(attempts.next().toNanos());
            }
        }
        if (!closed) {
            failed.incrementAndGet();
            LOG.debug("Destination {} gave up on event {}: {}", id, event.key(), lastError);
        }
    }

    /** The headers of one attempt: the id stays, the timestamp and signature are this attempt's. */
    private Map<String, String> headers(Outbound event) {
        long timestamp = clock.instant().getEpochSecond();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Idempotency-Key", event.key());
        headers.put(WebhookSignature.ID_HEADER, event.messageId());
        headers.put(WebhookSignature.TIMESTAMP_HEADER, Long.toString(timestamp));
        headers.put(
                WebhookSignature.SIGNATURE_HEADER,
                WebhookSignature.sign(secret, event.messageId(), timestamp, event.body()));
        return headers;
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
