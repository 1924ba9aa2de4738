package dev.chorus.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The in-memory store: the definition that stays is always the one with the largest version. */
class InMemoryDefinitionStoreTest {

    @Test
    void racingSavesOfOneIdLeaveTheLargestVersionStored() throws Exception {
        InMemoryDefinitionStore store = new InMemoryDefinitionStore();
        List<Future<Long>> maxima = new ArrayList<>();
        try (ExecutorService threads = Executors.newFixedThreadPool(4)) {
            for (int t = 0; t < 4; t++) {
                int thread = t;
                maxima.add(threads.submit(() -> {
                    long max = 0;
                    for (int i = 0; i < 2_000; i++) {
                        byte[] body = (thread + ":" + i).getBytes(StandardCharsets.UTF_8);
                        max = Math.max(max, store.save("r", "id", body).version());
                    }
                    return max;
                }));
            }
            long largest = 0;
            for (Future<Long> max : maxima) {
                largest = Math.max(largest, max.get());
            }
            assertThat(store.load("r", "id").orElseThrow().version()).isEqualTo(largest);
        }
    }
}
