package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.Leases;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour every {@link Leases} implementation must show, written once and run against each store by a
 * subclass that says how to reach a fresh one (after Micrometer's MeterRegistryCompatibilityKit).
 *
 * <p>Tests run in real time with short time-to-live values, so the store's own clock decides expiry exactly as
 * it does in production.
 */
public abstract class LeasesCompatibilityKit {

    /** One test's lease store: empty at the start, shared by every replica the test asks for. */
    public interface LeaseStoreFixture extends AutoCloseable {

        /** The leases of {@code replica} on this store; the kit asks once per replica. */
        Leases leases(ReplicaId replica);

        /** Closes every {@link Leases} handed out and drops the store (schema, keys). */
        @Override
        void close() throws Exception;
    }

    /** Creates this test's store; {@code testName} helps name its schema or key prefix. */
    protected abstract LeaseStoreFixture newStore(String testName) throws Exception;

    /** How long to wait for something that should happen promptly; slow stores may raise it. */
    protected Duration patience() {
        return Duration.ofSeconds(20);
    }

    /** The time to live of leases that a test lets expire; long enough for one round trip to the store. */
    protected Duration shortTtl() {
        return Duration.ofMillis(300);
    }

    private static final Duration LONG_TTL = Duration.ofSeconds(30);

    private LeaseStoreFixture store;

    @BeforeEach
    void createStore(TestInfo info) throws Exception {
        store = newStore(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterEach
    void closeStore() throws Exception {
        store.close();
    }

    private Leases replica(String name) {
        return store.leases(ReplicaId.random(name));
    }

    private ConditionFactory waiting() {
        return await().atMost(patience()).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void tryAcquire_freeKey_grantsALeaseWithATokenThatGrowsAcrossKeys() {
        ReplicaId id = ReplicaId.random("a");
        Leases a = store.leases(id);

        Lease first = a.tryAcquire("k1", LONG_TTL).join().orElseThrow();
        Lease second = a.tryAcquire("k2", LONG_TTL).join().orElseThrow();

        assertThat(first.key()).isEqualTo("k1");
        assertThat(first.holder()).isEqualTo(id);
        assertThat(first.ttl()).isEqualTo(LONG_TTL);
        assertThat(first.isValid()).isTrue();
        assertThat(first.remaining()).isPositive().isLessThanOrEqualTo(LONG_TTL);
        assertThat(second.token()).isGreaterThan(first.token());
    }

    @Test
    void tryAcquire_heldByAnother_isEmpty() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease held = a.tryAcquire("k", LONG_TTL).join().orElseThrow();

        assertThat(b.tryAcquire("k", LONG_TTL).join()).isEmpty();
        assertThat(a.owner("k").join()).map(LeaseOwner::token).contains(held.token());
    }

    @Test
    void tryAcquire_byTheHolder_keepsTheTokenAndExtends() {
        Leases a = replica("a");
        Lease first = a.tryAcquire("k", Duration.ofSeconds(10)).join().orElseThrow();

        Lease again = a.tryAcquire("k", LONG_TTL).join().orElseThrow();

        assertThat(again.token()).isEqualTo(first.token());
        assertThat(again.deadlineNanos()).isGreaterThan(first.deadlineNanos());
        assertThat(a.owner("k").join()).map(LeaseOwner::token).contains(first.token());
    }

    @Test
    void expiredLease_freesTheKeyAndItsHolderKnowsItIsInvalid() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease lease = a.tryAcquire("k", shortTtl()).join().orElseThrow();

        waiting().until(() -> b.owner("k").join().isEmpty());

        // The local deadline is measured from before the request was sent, so it ends no later than the store's.
        assertThat(lease.isValid())
                .as("a lease the store gave up must be invalid locally")
                .isFalse();
        Lease taken = b.tryAcquire("k", LONG_TTL).join().orElseThrow();
        assertThat(taken.token()).isGreaterThan(lease.token());
        assertThat(lostOn(() -> a.renew(lease)).getMessage()).contains("taken over");
    }

    @Test
    void claim_takesOverWithALargerTokenAndTheOldHolderLosesIt() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease old = a.tryAcquire("session", LONG_TTL).join().orElseThrow();

        Lease claimed = b.claim("session", LONG_TTL).join();

        assertThat(claimed.token()).isGreaterThan(old.token());
        assertThat(a.owner("session").join()).hasValueSatisfying(owner -> {
            assertThat(owner.holder()).isEqualTo(claimed.holder());
            assertThat(owner.token()).isEqualTo(claimed.token());
        });
        LeaseLostException lost = lostOn(() -> a.renew(old));
        assertThat(lost.getMessage()).contains("taken over");
        assertThat(lost.key()).isEqualTo("session");
        assertThat(lost.token()).isEqualTo(old.token());
        assertThat(b.claim("free", LONG_TTL).join().token()).isGreaterThan(claimed.token());
    }

    @Test
    void claimAll_takesEveryKeyOverInOneCallWithNewLargerTokens() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease held = a.tryAcquire("s1", LONG_TTL).join().orElseThrow();
        Lease expired = a.tryAcquire("s2", shortTtl()).join().orElseThrow();
        waiting().until(() -> b.owner("s2").join().isEmpty());

        List<Lease> claimed = b.claimAll(List.of("s3", "s1", "s2"), LONG_TTL).join();

        assertThat(claimed).extracting(Lease::key).containsExactly("s3", "s1", "s2");
        assertThat(claimed)
                .extracting(Lease::token)
                .doesNotHaveDuplicates()
                .allSatisfy(token -> assertThat(token).isGreaterThan(Math.max(held.token(), expired.token())));
        for (Lease lease : claimed) {
            assertThat(lease.isValid()).isTrue();
            assertThat(lease.ttl()).isEqualTo(LONG_TTL);
            assertThat(a.owner(lease.key()).join()).hasValueSatisfying(owner -> {
                assertThat(owner.holder()).isEqualTo(lease.holder());
                assertThat(owner.token()).isEqualTo(lease.token());
            });
            // Each lease of a batch lives on its own: renewed and released one by one.
            assertThat(b.renew(lease).join().token()).isEqualTo(lease.token());
        }
        assertThat(lostOn(() -> a.renew(held)).getMessage()).contains("taken over");
        b.release(claimed.get(0)).join();
        assertThat(a.owner("s3").join()).isEmpty();
        assertThat(b.claim("next", LONG_TTL).join().token())
                .isGreaterThan(claimed.stream().mapToLong(Lease::token).max().orElseThrow());
    }

    @Test
    void renewAll_extendsTheLeasesStillHeldAndReportsTheLostOnes() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease kept = a.tryAcquire("r1", Duration.ofSeconds(10)).join().orElseThrow();
        Lease taken = a.tryAcquire("r2", LONG_TTL).join().orElseThrow();
        Lease released = a.tryAcquire("r3", LONG_TTL).join().orElseThrow();
        Lease takeover = b.claim("r2", LONG_TTL).join();
        a.release(released).join();

        List<Optional<Lease>> renewed =
                a.renewAll(List.of(kept, taken, released)).join();

        assertThat(renewed).hasSize(3);
        assertThat(renewed.get(0)).hasValueSatisfying(lease -> {
            assertThat(lease.token()).isEqualTo(kept.token());
            assertThat(lease.deadlineNanos()).isGreaterThan(kept.deadlineNanos());
        });
        assertThat(renewed.get(1)).isEmpty();
        assertThat(renewed.get(2)).isEmpty();
        assertThat(a.owner("r2").join()).map(LeaseOwner::token).contains(takeover.token());
        assertThat(a.owner("r3").join()).isEmpty();
        assertThat(rejection(() -> b.renewAll(List.of(kept))).getMessage()).contains("not to this replica");
    }

    @Test
    void claimAll_ofAnEmptyBatchDuplicatesOrABadKey_isRejectedAndTakesNothing() {
        Leases a = replica("a");

        assertThat(rejection(() -> a.claimAll(List.of(), LONG_TTL)).getMessage())
                .contains("1 to");
        assertThat(rejection(() -> a.claimAll(List.of("d", "d"), LONG_TTL)).getMessage())
                .contains("same key twice");
        assertThat(rejection(() -> a.claimAll(List.of("ok", ""), LONG_TTL)).getMessage())
                .contains("Lease key");
        assertThat(rejection(() -> a.claimAll(List.of("ok"), Duration.ZERO)).getMessage())
                .contains("ttl");
        assertThat(a.owner("d").join()).isEmpty();
        assertThat(a.owner("ok").join()).isEmpty();
    }

    @Test
    void claimAll_overlappingBatchesInOppositeOrders_allCompleteAndTheLargestTokenHoldsEachKey() throws Exception {
        Leases a = replica("a");
        Leases b = replica("b");
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            keys.add("batch-" + i);
        }
        List<String> reversed = new ArrayList<>(keys);
        Collections.reverse(reversed);
        for (int round = 0; round < 10; round++) {
            CompletableFuture<List<Lease>> fromA = a.claimAll(keys, LONG_TTL);
            CompletableFuture<List<Lease>> fromB = b.claimAll(reversed, LONG_TTL);
            List<Lease> byA = fromA.get(patience().toMillis(), TimeUnit.MILLISECONDS);
            List<Lease> byB = fromB.get(patience().toMillis(), TimeUnit.MILLISECONDS);
            for (int i = 0; i < keys.size(); i++) {
                Lease ofA = byA.get(i);
                Lease ofB = byB.get(keys.size() - 1 - i);
                assertThat(ofA.key()).isEqualTo(ofB.key());
                Lease newer = ofA.token() > ofB.token() ? ofA : ofB;
                assertThat(a.owner(ofA.key()).join()).hasValueSatisfying(owner -> {
                    assertThat(owner.holder()).isEqualTo(newer.holder());
                    assertThat(owner.token()).isEqualTo(newer.token());
                });
            }
        }
    }

    @Test
    void renew_keepsTheTokenAndExtends() {
        Leases a = replica("a");
        Leases b = replica("b");
        Duration ttl = shortTtl().multipliedBy(3);
        Lease lease = a.tryAcquire("k", ttl).join().orElseThrow();
        waiting().until(() -> lease.remaining().compareTo(ttl.dividedBy(2)) < 0);

        Lease renewed = a.renew(lease).join();

        assertThat(renewed.token()).isEqualTo(lease.token());
        assertThat(renewed.deadlineNanos()).isGreaterThan(lease.deadlineNanos());
        waiting().until(() -> !lease.isValid());
        assertThat(renewed.isValid()).isTrue();
        assertThat(b.tryAcquire("k", LONG_TTL).join()).isEmpty();
        assertThat(b.owner("k").join()).map(LeaseOwner::token).contains(lease.token());
    }

    @Test
    void renew_afterExpiry_failsSayingItExpired() {
        Leases a = replica("a");
        Lease lease = a.tryAcquire("k", shortTtl()).join().orElseThrow();

        // Past the local deadline by a margin, so the store's expiry (a round trip later at most) passed too.
        // Nothing looks at the key meanwhile: a store may forget an expired entry once it is looked at.
        waiting().until(() -> lease.remaining().compareTo(shortTtl().negated()) < 0);

        assertThat(lostOn(() -> a.renew(lease)).getMessage()).contains("expired");
    }

    @Test
    void renew_afterRelease_failsSayingItWasReleased() {
        Leases a = replica("a");
        Lease lease = a.tryAcquire("k", LONG_TTL).join().orElseThrow();
        a.release(lease).join();

        assertThat(lostOn(() -> a.renew(lease)).getMessage()).contains("released");
    }

    @Test
    void release_freesTheKey() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease lease = a.tryAcquire("k", LONG_TTL).join().orElseThrow();

        a.release(lease).join();

        assertThat(a.owner("k").join()).isEmpty();
        Lease next = b.tryAcquire("k", LONG_TTL).join().orElseThrow();
        assertThat(next.token()).isGreaterThan(lease.token());
    }

    @Test
    void release_ofAStaleToken_doesNothing() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease first = a.tryAcquire("k", LONG_TTL).join().orElseThrow();
        a.release(first).join();
        Lease second = a.tryAcquire("k", LONG_TTL).join().orElseThrow();

        a.release(first).join();

        assertThat(second.token()).isGreaterThan(first.token());
        assertThat(a.owner("k").join()).map(LeaseOwner::token).contains(second.token());
        Lease claimed = b.claim("k", LONG_TTL).join();
        a.release(second).join();
        assertThat(b.owner("k").join()).map(LeaseOwner::token).contains(claimed.token());
    }

    @Test
    void owner_reflectsTheStore() {
        ReplicaId id = ReplicaId.random("a");
        Leases a = store.leases(id);
        Leases b = replica("b");
        assertThat(b.owner("k").join()).isEmpty();

        Instant before = Instant.now();
        Lease lease = a.tryAcquire("k", LONG_TTL).join().orElseThrow();
        Instant after = Instant.now();

        LeaseOwner owner = b.owner("k").join().orElseThrow();
        assertThat(owner.key()).isEqualTo("k");
        assertThat(owner.holder()).isEqualTo(id);
        assertThat(owner.holder().name()).isEqualTo("a");
        assertThat(owner.token()).isEqualTo(lease.token());
        // The store's clock may differ a little from ours.
        Duration skew = Duration.ofSeconds(5);
        assertThat(owner.expiresAt())
                .isBetween(
                        before.plus(LONG_TTL).minus(skew), after.plus(LONG_TTL).plus(skew));

        Lease brief = a.tryAcquire("brief", shortTtl()).join().orElseThrow();
        assertThat(b.owner("brief").join()).map(LeaseOwner::token).contains(brief.token());
        waiting().until(() -> b.owner("brief").join().isEmpty());
        a.release(lease).join();
        assertThat(b.owner("k").join()).isEmpty();
    }

    @Test
    void contendingReplicas_neverHoldAtOnceAndTokensOnlyGrow() throws Exception {
        int contenders = 8;
        List<Leases> leases = new ArrayList<>();
        for (int i = 0; i < contenders; i++) {
            leases.add(replica("c" + i));
        }
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger mostHolders = new AtomicInteger();
        // Appended only while holding, so the list is in the order the store handed the key out.
        List<Long> tokens = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        long end = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        ExecutorService threads = Executors.newFixedThreadPool(contenders);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (Leases replica : leases) {
                running.add(threads.submit(() -> {
                    start.await();
                    while (System.nanoTime() - end < 0) {
                        Optional<Lease> lease =
                                replica.tryAcquire("hot", LONG_TTL).join();
                        if (lease.isPresent()) {
                            mostHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                            tokens.add(lease.get().token());
                            // Holds the key as real work would, so overlapping holders would be seen.
                            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
                            holders.decrementAndGet();
                            replica.release(lease.get()).join();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> future : running) {
                future.get(patience().toSeconds() + 2, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }

        assertThat(mostHolders.get()).as("most simultaneous holders").isEqualTo(1);
        List<Long> issued = List.copyOf(tokens);
        assertThat(issued)
                .hasSizeGreaterThan(contenders)
                .doesNotHaveDuplicates()
                .isSorted();
    }

    @Test
    void invalidKeyOrTtl_isRejectedWithAClearError() {
        Leases a = replica("a");
        String tooLong = "k".repeat(513);

        assertThat(rejection(() -> a.tryAcquire("", LONG_TTL))).hasMessageContaining("key");
        assertThat(rejection(() -> a.tryAcquire(tooLong, LONG_TTL))).hasMessageContaining("key");
        assertThat(rejection(() -> a.claim("", LONG_TTL))).hasMessageContaining("key");
        assertThat(rejection(() -> a.owner(""))).hasMessageContaining("key");
        assertThat(rejection(() -> a.tryAcquire("k", Duration.ZERO))).hasMessageContaining("ttl");
        assertThat(rejection(() -> a.tryAcquire("k", Duration.ofSeconds(-1)))).hasMessageContaining("ttl");
        assertThat(rejection(() -> a.claim("k", Duration.ZERO))).hasMessageContaining("ttl");
        assertThat(a.owner("k").join()).isEmpty();
    }

    @Test
    void anotherReplicasLease_cannotBeRenewedOrReleased() {
        Leases a = replica("a");
        Leases b = replica("b");
        Lease lease = a.tryAcquire("k", LONG_TTL).join().orElseThrow();

        rejection(() -> b.renew(lease));
        rejection(() -> b.release(lease));

        assertThat(b.owner("k").join()).map(LeaseOwner::token).contains(lease.token());
    }

    /** The {@link LeaseLostException} a lease operation failed with. */
    private static LeaseLostException lostOn(Supplier<? extends CompletableFuture<?>> call) {
        Throwable failure = rejection(call);
        assertThat(failure).isInstanceOf(LeaseLostException.class);
        return (LeaseLostException) failure;
    }

    /** The {@link ChorusException} a call threw or completed its future with. */
    private static Throwable rejection(Supplier<? extends CompletableFuture<?>> call) {
        Throwable failure;
        try {
            call.get().join();
            throw new AssertionError("expected the call to fail, but it succeeded");
        } catch (CompletionException e) {
            failure = e.getCause();
        } catch (ChorusException e) {
            failure = e;
        }
        assertThat(failure).isInstanceOf(ChorusException.class);
        return failure;
    }
}
