package dev.chorus.server.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link ResourceStore} must do; a subclass per store supplies a fresh, empty store per test. */
abstract class ResourceStoreContract {

    static final ResourceKey KEY = new ResourceKey("acme", "widgets", "w-1");
    static final int WRITERS = 8;

    protected ResourceStore store;

    /** A new, empty store that only the calling test uses. */
    protected abstract ResourceStore newStore() throws Exception;

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    static byte[] json(String text) {
        return text.getBytes(UTF_8);
    }

    static String text(Resource resource) {
        return new String(resource.body(), UTF_8);
    }

    @Test
    void put_new_isVersionOne() {
        Resource created = store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        assertThat(created.key()).isEqualTo(KEY);
        assertThat(created.version()).isEqualTo(1);
        assertThat(created.etag()).isEqualTo("\"1\"");
        assertThat(text(created)).isEqualTo("{\"a\":1}");
        assertThat(store.get(KEY)).get().satisfies(read -> {
            assertThat(read.version()).isEqualTo(1);
            assertThat(read.updated()).isEqualTo(created.updated());
        });
    }

    @Test
    void put_existing_isTheNextVersion() {
        Resource first = store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        Resource second = store.put(KEY, json("{\"a\":2}"), Precondition.NONE, TransactionHook.NONE);

        assertThat(second.version()).isEqualTo(2);
        assertThat(second.updated()).isAfterOrEqualTo(first.updated());
        assertThat(store.get(KEY)).get().satisfies(read -> {
            assertThat(read.version()).isEqualTo(2);
            assertThat(text(read)).isEqualTo("{\"a\":2}");
            assertThat(read.updated()).isEqualTo(second.updated());
        });
    }

    @Test
    void get_returnsTheExactBytesStored() {
        // Key order, duplicate keys, whitespace and escapes would all change in a normalising store.
        byte[] body = json("{ \"z\" : 1,\n\t\"a\":[ ], \"a\": \"\\u00e9 é 😀\" }  ");

        store.put(KEY, body, Precondition.NONE, TransactionHook.NONE);

        assertThat(store.get(KEY)).get().extracting(Resource::body).isEqualTo(body);
    }

    @Test
    void get_absent_isEmpty() {
        assertThat(store.get(KEY)).isEmpty();
    }

    @Test
    void absent_onExisting_failsWithTheCurrentResource() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        assertThatThrownBy(() -> store.put(KEY, json("{\"a\":2}"), Precondition.ABSENT, TransactionHook.NONE))
                .isInstanceOfSatisfying(PreconditionFailedException.class, e -> {
                    assertThat(e.current()).isNotNull();
                    assertThat(e.current().version()).isEqualTo(1);
                    assertThat(text(e.current())).isEqualTo("{\"a\":1}");
                })
                .hasMessageContaining("widgets/w-1 is at version 1");
        assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(1L);
    }

    @Test
    void absent_onAbsent_creates() {
        assertThat(store.put(KEY, json("{}"), Precondition.ABSENT, TransactionHook.NONE)
                        .version())
                .isEqualTo(1);
    }

    @Test
    void version_wrong_failsAndChangesNothing() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);
        store.put(KEY, json("{\"a\":2}"), Precondition.NONE, TransactionHook.NONE);

        assertThatThrownBy(() -> store.put(KEY, json("{\"a\":3}"), Precondition.version(1), TransactionHook.NONE))
                .isInstanceOfSatisfying(
                        PreconditionFailedException.class,
                        e -> assertThat(e.current().version()).isEqualTo(2))
                .hasMessageContaining("version 1");
        assertThat(store.get(KEY)).get().satisfies(read -> {
            assertThat(read.version()).isEqualTo(2);
            assertThat(text(read)).isEqualTo("{\"a\":2}");
        });

        assertThat(store.put(KEY, json("{\"a\":3}"), Precondition.version(2), TransactionHook.NONE)
                        .version())
                .isEqualTo(3);
    }

    @Test
    void version_onAbsent_failsAndCreatesNothing() {
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.version(1), TransactionHook.NONE))
                .isInstanceOfSatisfying(
                        PreconditionFailedException.class,
                        e -> assertThat(e.current()).isNull());
        assertThat(store.get(KEY)).isEmpty();
    }

    @Test
    void present_onAbsent_failsAndCreatesNothing() {
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.PRESENT, TransactionHook.NONE))
                .isInstanceOfSatisfying(
                        PreconditionFailedException.class,
                        e -> assertThat(e.current()).isNull())
                .hasMessageContaining("is absent");
        assertThat(store.get(KEY)).isEmpty();
        // A failed attempt must not leave a tombstone behind that bumps the first version.
        assertThat(store.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE)
                        .version())
                .isEqualTo(1);
    }

    @Test
    void present_onExisting_overwrites() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        assertThat(store.put(KEY, json("{\"a\":2}"), Precondition.PRESENT, TransactionHook.NONE)
                        .version())
                .isEqualTo(2);
    }

    @Test
    void delete_returnsTheDeletedResource() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);
        store.put(KEY, json("{\"a\":2}"), Precondition.NONE, TransactionHook.NONE);

        Optional<Resource> deleted = store.delete(KEY, Precondition.NONE, TransactionHook.NONE);

        assertThat(deleted).get().satisfies(gone -> {
            assertThat(gone.version()).isEqualTo(2);
            assertThat(text(gone)).isEqualTo("{\"a\":2}");
        });
        assertThat(store.get(KEY)).isEmpty();
    }

    @Test
    void delete_absent_isEmpty() {
        assertThat(store.delete(KEY, Precondition.NONE, TransactionHook.NONE)).isEmpty();
        assertThat(store.delete(KEY, Precondition.ABSENT, TransactionHook.NONE)).isEmpty();
    }

    @Test
    void delete_whosePreconditionFails_keepsTheResource() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);

        assertThatThrownBy(() -> store.delete(KEY, Precondition.version(7), TransactionHook.NONE))
                .isInstanceOfSatisfying(
                        PreconditionFailedException.class,
                        e -> assertThat(e.current().version()).isEqualTo(1));
        assertThatThrownBy(() -> store.delete(KEY, Precondition.ABSENT, TransactionHook.NONE))
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(store.get(KEY)).isPresent();

        assertThat(store.delete(KEY, Precondition.version(1), TransactionHook.NONE))
                .isPresent();
        assertThatThrownBy(() -> store.delete(KEY, Precondition.PRESENT, TransactionHook.NONE))
                .isInstanceOfSatisfying(
                        PreconditionFailedException.class,
                        e -> assertThat(e.current()).isNull());
    }

    @Test
    void deleteThenCreate_theVersionKeepsGrowing() {
        store.put(KEY, json("{\"a\":1}"), Precondition.NONE, TransactionHook.NONE);
        store.put(KEY, json("{\"a\":2}"), Precondition.NONE, TransactionHook.NONE);
        store.delete(KEY, Precondition.NONE, TransactionHook.NONE);

        Resource again = store.put(KEY, json("{\"b\":1}"), Precondition.ABSENT, TransactionHook.NONE);

        assertThat(again.version())
                .as("not 1: \"1\" already named another body")
                .isEqualTo(3);
        assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(3L);
        store.delete(KEY, Precondition.version(3), TransactionHook.NONE);
        assertThatThrownBy(() -> store.put(KEY, json("{}"), Precondition.version(3), TransactionHook.NONE))
                .as("a deleted version is not there to match")
                .isInstanceOf(PreconditionFailedException.class);
        assertThat(store.put(KEY, json("{}"), Precondition.NONE, TransactionHook.NONE)
                        .version())
                .isEqualTo(4);
    }

    @Test
    void tenants_areIndependent() {
        ResourceKey mine = new ResourceKey("acme", "widgets", "shared-id");
        ResourceKey theirs = new ResourceKey("globex", "widgets", "shared-id");

        store.put(mine, json("{\"owner\":\"acme\"}"), Precondition.NONE, TransactionHook.NONE);
        store.put(mine, json("{\"owner\":\"acme\",\"v\":2}"), Precondition.NONE, TransactionHook.NONE);
        Resource other = store.put(theirs, json("{\"owner\":\"globex\"}"), Precondition.ABSENT, TransactionHook.NONE);

        assertThat(other.version()).isEqualTo(1);
        assertThat(store.get(mine))
                .get()
                .extracting(ResourceStoreContract::text)
                .isEqualTo("{\"owner\":\"acme\",\"v\":2}");
        assertThat(store.get(theirs))
                .get()
                .extracting(ResourceStoreContract::text)
                .isEqualTo("{\"owner\":\"globex\"}");
        store.delete(theirs, Precondition.NONE, TransactionHook.NONE);
        assertThat(store.get(mine)).get().extracting(Resource::version).isEqualTo(2L);
        assertThat(store.get(new ResourceKey("acme", "gadgets", "shared-id"))).isEmpty();
    }

    @Test
    void oneMebibyteBody_roundTrips() {
        byte[] body = new byte[1024 * 1024];
        Arrays.fill(body, (byte) ' ');
        byte[] filler = new byte[body.length - 16];
        new Random(42).nextBytes(filler);
        for (int i = 0; i < filler.length; i++) {
            // Printable ASCII, so the body stays a plausible JSON string.
            filler[i] = (byte) ('a' + Math.floorMod(filler[i], 26));
        }
        byte[] prefix = json("{\"x\":\"");
        System.arraycopy(prefix, 0, body, 0, prefix.length);
        System.arraycopy(filler, 0, body, prefix.length, filler.length);
        body[prefix.length + filler.length] = '"';
        body[prefix.length + filler.length + 1] = '}';

        store.put(KEY, body, Precondition.NONE, TransactionHook.NONE);

        assertThat(store.get(KEY)).get().extracting(Resource::body).isEqualTo(body);
    }

    @Test
    void concurrentIfMatch_exactlyOneWriterWinsEachRound() throws Exception {
        store.put(KEY, json("{\"round\":0}"), Precondition.NONE, TransactionHook.NONE);
        ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
        try {
            for (int round = 1; round <= 5; round++) {
                // Every writer reads before anyone writes, so all of them hold the same version.
                CyclicBarrier everyoneHasRead = new CyclicBarrier(WRITERS);
                List<Future<Boolean>> attempts = new ArrayList<>();
                for (int writer = 0; writer < WRITERS; writer++) {
                    byte[] body = json("{\"round\":" + round + ",\"writer\":" + writer + "}");
                    attempts.add(writers.submit(() -> {
                        long seen = store.get(KEY).orElseThrow().version();
                        everyoneHasRead.await(30, TimeUnit.SECONDS);
                        try {
                            store.put(KEY, body, Precondition.version(seen), TransactionHook.NONE);
                            return true;
                        } catch (PreconditionFailedException e) {
                            assertThat(e.current().version()).isEqualTo(seen + 1);
                            return false;
                        }
                    }));
                }
                int wins = 0;
                for (Future<Boolean> attempt : attempts) {
                    wins += attempt.get(60, TimeUnit.SECONDS) ? 1 : 0;
                }

                assertThat(wins).as("winners in round %d", round).isEqualTo(1);
                assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(round + 1L);
            }
            assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(6L);
        } finally {
            writers.shutdownNow();
        }
    }

    @Test
    void concurrentCreate_exactlyOneWriterWins() throws Exception {
        ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
        try {
            CyclicBarrier ready = new CyclicBarrier(WRITERS);
            List<Future<Boolean>> attempts = new ArrayList<>();
            for (int writer = 0; writer < WRITERS; writer++) {
                byte[] body = json("{\"writer\":" + writer + "}");
                attempts.add(writers.submit(() -> {
                    ready.await(30, TimeUnit.SECONDS);
                    try {
                        store.put(KEY, body, Precondition.ABSENT, TransactionHook.NONE);
                        return true;
                    } catch (PreconditionFailedException e) {
                        assertThat(e.current().version()).isEqualTo(1);
                        return false;
                    }
                }));
            }
            int wins = 0;
            for (Future<Boolean> attempt : attempts) {
                wins += attempt.get(60, TimeUnit.SECONDS) ? 1 : 0;
            }

            assertThat(wins).isEqualTo(1);
            assertThat(store.get(KEY)).get().extracting(Resource::version).isEqualTo(1L);
        } finally {
            writers.shutdownNow();
        }
    }

    @Test
    void health_isHealthyAndNamesTheKind() {
        assertThat(store.health().isHealthy()).isTrue();
        assertThat(store.health().details()).containsEntry("kind", store.kind());
    }
}
