package dev.chorus.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ReplicaId;
import dev.chorus.leases.Lease;
import dev.chorus.leases.LeaseLostException;
import dev.chorus.leases.LeaseOwner;
import dev.chorus.leases.Leases;
import dev.chorus.local.LocalCluster.LocalReplica;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LocalLeasesTest {

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final LocalCluster cluster =
            LocalCluster.builder("leases").nanoTime(now::get).build();
    private final LocalReplica a = cluster.join(ReplicaId.random("a"));
    private final LocalReplica b = cluster.join(ReplicaId.random("b"));

    @Test
    void tryAcquire_heldByAnother_isEmpty() {
        Lease lease = a.leases()
                .tryAcquire("session-1", Duration.ofSeconds(10))
                .join()
                .orElseThrow();

        assertThat(b.leases().tryAcquire("session-1", Duration.ofSeconds(10)).join())
                .isEmpty();
        assertThat(a.leases().owner("session-1").join()).map(LeaseOwner::holder).contains(a.id());
        assertThat(lease.isValid()).isTrue();
    }

    @Test
    void expiredLease_isFreeAndItsHolderKnowsItIsInvalid() {
        Lease lease = a.leases().tryAcquire("k", Duration.ofSeconds(10)).join().orElseThrow();

        now.addAndGet(Duration.ofSeconds(10).toNanos());

        assertThat(lease.isValid()).isFalse();
        assertThat(a.leases().owner("k").join()).isEmpty();
        Lease taken = b.leases().tryAcquire("k", Duration.ofSeconds(10)).join().orElseThrow();
        assertThat(taken.token()).isGreaterThan(lease.token());
        assertThatThrownBy(() -> a.leases().renew(lease).join())
                .isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(LeaseLostException.class)
                .hasMessageContaining("taken over");
    }

    @Test
    void claim_takesOverWithALargerTokenAndTheOldHolderLosesItLoudly() {
        Lease old = a.leases()
                .tryAcquire("session-7", Duration.ofSeconds(30))
                .join()
                .orElseThrow();

        Lease claimed = b.leases().claim("session-7", Duration.ofSeconds(30)).join();

        assertThat(claimed.token()).isGreaterThan(old.token());
        assertThatThrownBy(() -> a.leases().renew(old).join())
                .hasCauseInstanceOf(LeaseLostException.class)
                .hasMessageContaining("stop acting");
        a.leases().release(old).join();
        assertThat(a.leases().owner("session-7").join()).map(LeaseOwner::token).contains(claimed.token());
    }

    @Test
    void renew_keepsTheTokenAndExtends() {
        Lease lease = a.leases().tryAcquire("k", Duration.ofSeconds(10)).join().orElseThrow();
        now.addAndGet(Duration.ofSeconds(6).toNanos());

        Lease renewed = a.leases().renew(lease).join();
        now.addAndGet(Duration.ofSeconds(6).toNanos());

        assertThat(renewed.token()).isEqualTo(lease.token());
        assertThat(renewed.isValid()).isTrue();
        assertThat(lease.isValid()).isFalse();
    }

    @Test
    void release_freesTheKey() {
        Lease lease = a.leases().tryAcquire("k", Duration.ofSeconds(10)).join().orElseThrow();

        a.leases().release(lease).join();

        assertThat(b.leases().tryAcquire("k", Duration.ofSeconds(10)).join()).isPresent();
    }

    @Test
    void eightThreadsContending_neverYieldTwoHoldersAndTokensOnlyGrow() throws Exception {
        List<LocalReplica> replicas = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            replicas.add(cluster.join(ReplicaId.random("c" + i)));
        }
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        ConcurrentLinkedQueue<Long> tokens = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<?>> futures = new ArrayList<>();
        for (LocalReplica replica : replicas) {
            futures.add(pool.submit(() -> {
                start.await();
                Leases leases = replica.leases();
                for (int round = 0; round < 500; round++) {
                    Optional<Lease> lease =
                            leases.tryAcquire("hot", Duration.ofMinutes(1)).join();
                    if (lease.isPresent()) {
                        maxHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                        tokens.add(lease.get().token());
                        holders.decrementAndGet();
                        leases.release(lease.get()).join();
                    }
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> future : futures) {
            future.get();
        }
        pool.shutdown();

        assertThat(maxHolders.get()).isEqualTo(1);
        assertThat(tokens).isNotEmpty().doesNotHaveDuplicates();
    }
}
