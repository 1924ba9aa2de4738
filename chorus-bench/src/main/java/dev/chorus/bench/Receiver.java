package dev.chorus.bench;

/**
 * One receiving end of a fan-out: it times each payload against the publish time stamped in it and counts
 * the delivery. Called by one thread at a time (a subscription's delivery thread or a consumer thread).
 */
final class Receiver {

    private final DeliveryCounter delivered = new DeliveryCounter();
    private final LatencyRecorder latency = new LatencyRecorder();

    /** A payload arrived at {@code receivedNanos} ({@link System#nanoTime()}, read as early as possible). */
    void accept(byte[] payload, long receivedNanos) {
        latency.record(receivedNanos - Payloads.publishedNanos(payload));
        // Counted after recording, so whoever sees the count also sees the latency it stands for.
        delivered.increment();
    }

    DeliveryCounter delivered() {
        return delivered;
    }

    LatencyRecorder latency() {
        return latency;
    }
}
