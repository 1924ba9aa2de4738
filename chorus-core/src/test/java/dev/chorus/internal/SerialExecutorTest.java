package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** SerialExecutor: one task at a time, in order, inline when idle. */
class SerialExecutorTest {

    @Test
    void anIdleExecutorRunsTheTaskOnTheCallingThread() {
        SerialExecutor executor = new SerialExecutor("test-serial");
        Thread caller = Thread.currentThread();
        List<Thread> ranOn = new CopyOnWriteArrayList<>();

        executor.executeHereIfIdle(() -> ranOn.add(Thread.currentThread()));

        assertThat(ranOn).containsExactly(caller);
    }

    @Test
    void aBusyExecutorQueuesTheTaskBehindTheRunningOneAndKeepsOrder() throws Exception {
        SerialExecutor executor = new SerialExecutor("test-serial");
        List<String> order = new CopyOnWriteArrayList<>();
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        executor.execute(() -> {
            running.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            order.add("first");
        });
        assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

        executor.executeHereIfIdle(() -> order.add("second")); // must not run now, beside "first"
        executor.execute(() -> order.add("third"));
        assertThat(order).isEmpty();
        release.countDown();

        await().until(() -> order.size() == 3);
        assertThat(order).containsExactly("first", "second", "third");
    }
}
