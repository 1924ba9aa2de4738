package dev.chorus.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The in-memory store keeps the store contract, never calls hooks and cannot be changed through its arrays. */
class InMemoryResourceStoreTest extends ResourceStoreContract {

    @Override
    protected ResourceStore newStore() {
        return new InMemoryResourceStore();
    }

    @Test
    void describesItself() {
        assertThat(store.kind()).isEqualTo("memory");
        assertThat(store.transactional()).isFalse();
    }

    @Test
    void hooks_areNeverCalled() {
        AtomicInteger calls = new AtomicInteger();
        TransactionHook counting = transaction -> calls.incrementAndGet();

        store.put(KEY, json("{}"), Precondition.NONE, counting);
        store.put(KEY, json("{}"), Precondition.version(1), counting);
        store.delete(KEY, Precondition.NONE, counting);

        assertThat(calls).hasValue(0);
    }

    @Test
    void health_countsPresentResources() {
        ResourceKey other = new ResourceKey("acme", "widgets", "w-2");
        store.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE);
        store.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE);
        store.put(other, json("{}"), Precondition.NONE, TransactionHook.NONE);
        store.delete(other, Precondition.NONE, TransactionHook.NONE);
        store.delete(other, Precondition.NONE, TransactionHook.NONE);

        assertThat(store.health().details()).containsEntry("kind", "memory").containsEntry("resources", 1L);
    }

    @Test
    void storedBytes_cannotBeChangedThroughTheCallersArrays() {
        byte[] body = json("{\"a\":1}");
        Resource written = store.put(KEY, body, Precondition.NONE, TransactionHook.NONE);

        body[0] = 'X';
        written.body()[0] = 'Y';
        store.get(KEY).orElseThrow().body()[0] = 'Z';

        assertThat(text(store.get(KEY).orElseThrow())).isEqualTo("{\"a\":1}");
    }
}
