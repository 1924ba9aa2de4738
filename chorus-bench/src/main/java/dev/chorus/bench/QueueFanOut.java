package dev.chorus.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedTransferQueue;

/**
 * The raw baseline: what a hand-written in-JVM fan-out costs. The publisher offers the same {@code byte[]}
 * to one unbounded {@link LinkedTransferQueue} per receiver; each receiver drains its queue on its own
 * virtual thread. No encoding, no copies, no sequence checks.
 */
final class QueueFanOut implements FanOut {

    /** Told apart by identity: tells a consumer to stop. */
    private static final byte[] STOP = new byte[0];

    private final List<LinkedTransferQueue<byte[]>> queues = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();
    private final List<Thread> consumers = new ArrayList<>();

    QueueFanOut(int receiverCount) {
        for (int i = 0; i < receiverCount; i++) {
            LinkedTransferQueue<byte[]> queue = new LinkedTransferQueue<>();
            Receiver receiver = new Receiver();
            queues.add(queue);
            receivers.add(receiver);
            consumers.add(Thread.ofVirtual().name("raw-consumer-" + i).start(() -> consume(queue, receiver)));
        }
    }

    private static void consume(LinkedTransferQueue<byte[]> queue, Receiver receiver) {
        try {
            while (true) {
                byte[] payload = queue.take();
                long now = System.nanoTime();
                if (payload == STOP) {
                    return;
                }
                receiver.accept(payload, now);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String variant() {
        return "raw baseline (LinkedTransferQueue fan-out)";
    }

    @Override
    public List<Receiver> receivers() {
        return receivers;
    }

    @Override
    public void publish(byte[] payload) {
        for (LinkedTransferQueue<byte[]> queue : queues) {
            queue.offer(payload);
        }
    }

    @Override
    public long lossSignals() {
        return 0;
    }

    @Override
    public void close() {
        queues.forEach(queue -> queue.offer(STOP));
        try {
            for (Thread consumer : consumers) {
                if (!consumer.join(Duration.ofSeconds(5))) {
                    consumer.interrupt();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
