package dev.chorus.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks one at a time in submission order on short-lived virtual threads with a fixed name, so a
 * listener never runs on the thread that produced its event and never concurrently with itself.
 */
public final class SerialExecutor implements Executor {

    private static final Logger LOG = LoggerFactory.getLogger(SerialExecutor.class);

    private final String threadName;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    /** Tasks run on virtual threads named {@code threadName}. */
    public SerialExecutor(String threadName) {
        this.threadName = threadName;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
        schedule();
    }

    /**
     * Runs {@code task} on the calling thread when nothing is queued or running, saving a thread handoff;
     * otherwise queues it behind the others. Either way tasks still run one at a time, in order.
     */
    public void executeHereIfIdle(Runnable task) {
        if (tasks.isEmpty() && scheduled.compareAndSet(false, true)) {
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                LOG.warn("A task on {} failed; continuing with the next one", threadName, e);
            } finally {
                scheduled.set(false);
                if (!tasks.isEmpty()) {
                    schedule();
                }
            }
        } else {
            execute(task);
        }
    }

    private void schedule() {
        if (scheduled.compareAndSet(false, true)) {
            Thread.ofVirtual().name(threadName).start(this::drain);
        }
    }

    private void drain() {
        try {
            Runnable task;
            while ((task = tasks.poll()) != null) {
                try {
                    task.run();
                } catch (RuntimeException | Error e) {
                    LOG.warn("A task on {} failed; continuing with the next one", threadName, e);
                }
            }
        } finally {
            scheduled.set(false);
            if (!tasks.isEmpty()) {
                schedule();
            }
        }
    }
}
