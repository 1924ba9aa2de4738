package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour every {@link Membership} implementation must show, written once and run against each one by a
 * subclass that says how to start members of a fresh cluster (after Micrometer's MeterRegistryCompatibilityKit).
 */
public abstract class MembershipCompatibilityKit {

    /** One test's cluster: no members at the start. */
    public interface MembershipFixture extends AutoCloseable {

        /** Starts a member of this cluster that advertises {@code version} and {@code attributes}. */
        Membership join(ReplicaId replica, String version, Map<String, String> attributes);

        /** Makes {@code membership} stop heartbeating without leaving, as a killed process would. */
        void crash(Membership membership);

        /** The longest time after {@link #crash} until the others may see the member expire. */
        Duration expiry();

        /** Stops every member still running and drops the cluster's schema or keys. */
        @Override
        void close() throws Exception;
    }

    /** Creates this test's cluster; {@code testName} helps name its schema or key prefix. */
    protected abstract MembershipFixture newCluster(String testName) throws Exception;

    /** How long to wait for something that should happen within a heartbeat or two. */
    protected Duration patience() {
        return Duration.ofSeconds(20);
    }

    /** What a loaded build machine may add to {@link MembershipFixture#expiry()} before a crash is seen. */
    protected Duration schedulingSlack() {
        return Duration.ofSeconds(2);
    }

    private MembershipFixture cluster;

    @BeforeEach
    void createCluster(TestInfo info) throws Exception {
        cluster = newCluster(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterEach
    void closeCluster() throws Exception {
        cluster.close();
    }

    private Membership join(String name) {
        return cluster.join(ReplicaId.random(name), "1.0.0", Map.of());
    }

    private ConditionFactory waiting() {
        return await().atMost(patience()).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void self_isListedWithItsVersionAndAttributes() {
        ReplicaId id = ReplicaId.random("a");

        Membership a = cluster.join(id, "1.2.3", Map.of("fingerprint", "ab:cd"));

        assertThat(a.self().id()).isEqualTo(id);
        assertThat(a.self().version()).isEqualTo("1.2.3");
        assertThat(a.self().attributes()).containsExactly(Map.entry("fingerprint", "ab:cd"));
        assertThat(a.members()).extracting(Member::id).contains(id);
        assertThat(a.member(id)).hasValueSatisfying(m -> assertThat(m.version()).isEqualTo("1.2.3"));
        assertThat(a.liveCount()).isEqualTo(1);
        waiting().until(() -> a.health().isHealthy());
    }

    @Test
    void join_isSeenByOthersWithVersionAndAttributes() {
        Membership a = join("a");
        Recorder onA = Recorder.on(a);
        ReplicaId bId = ReplicaId.random("b");

        Membership b = cluster.join(bId, "9.9.9-kit", Map.of("fingerprint", "f0:0d", "zone", "eu-1"));

        waiting().until(() -> onA.joined(bId).isPresent());
        Member seen = onA.joined(bId).orElseThrow();
        assertThat(seen.version()).isEqualTo("9.9.9-kit");
        assertThat(seen.attributes()).isEqualTo(Map.of("fingerprint", "f0:0d", "zone", "eu-1"));
        assertThat(seen.id().name()).isEqualTo("b");
        assertThat(a.member(bId))
                .hasValueSatisfying(m -> assertThat(m.attributes()).containsEntry("zone", "eu-1"));
        waiting().until(() -> b.member(a.self().id()).isPresent());
        assertThat(onA.eventsAbout(a.self().id()))
                .as("a member never hears about itself")
                .isEmpty();
    }

    @Test
    void close_isSeenByOthersAsLeft() {
        Membership a = join("a");
        Recorder onA = Recorder.on(a);
        Membership b = join("b");
        ReplicaId bId = b.self().id();
        waiting().until(() -> a.member(bId).isPresent());

        b.close();
        b.close();

        waiting().until(() -> onA.left(bId).isPresent());
        assertThat(onA.left(bId)).contains(LeaveReason.LEFT);
        assertThat(a.member(bId)).isEmpty();
        assertThat(b.health().status()).isEqualTo(Health.Status.DOWN);
    }

    @Test
    void crashedMember_isSeenAsExpiredWithinTheExpiry() {
        Membership a = join("a");
        Recorder onA = Recorder.on(a);
        Membership b = join("b");
        ReplicaId bId = b.self().id();
        waiting().until(() -> a.member(bId).isPresent());

        cluster.crash(b);

        await().atMost(cluster.expiry().plus(schedulingSlack()))
                .pollInterval(Duration.ofMillis(10))
                .until(() -> onA.left(bId).isPresent());
        assertThat(onA.left(bId)).contains(LeaveReason.EXPIRED);
        assertThat(a.member(bId)).isEmpty();
        assertThat(a.liveCount()).isEqualTo(1);
    }

    @Test
    void liveCount_countsLiveMembers() {
        List<Membership> members = List.of(join("a"), join("b"), join("c"));

        for (Membership member : members) {
            waiting().until(() -> member.liveCount() == 3);
        }
        members.get(2).close();

        waiting().until(() -> members.get(0).liveCount() == 2);
        waiting().until(() -> members.get(1).liveCount() == 2);
    }

    @Test
    void listeners_runOffTheCallerThreadAndAFailingOneStopsNoOther() {
        Membership a = join("a");
        AtomicInteger failingCalls = new AtomicInteger();
        a.onChange(new MembershipListener() {
            @Override
            public void onJoined(Member member) {
                failingCalls.incrementAndGet();
                throw new IllegalStateException("listener bug (expected by the test)");
            }
        });
        Recorder onA = Recorder.on(a);
        Recorder unsubscribed = new Recorder();
        Subscription subscription = a.onChange(unsubscribed);
        subscription.close();
        subscription.close();

        ReplicaId b = join("b").self().id();
        waiting().until(() -> onA.joined(b).isPresent());
        ReplicaId c = join("c").self().id();

        waiting().until(() -> onA.joined(c).isPresent());
        waiting().until(() -> failingCalls.get() >= 2);
        String caller = Thread.currentThread().getName();
        assertThat(onA.threads())
                .isNotEmpty()
                .allSatisfy(name -> assertThat(name).isNotEqualTo(caller).isEqualTo("chorus-membership"));
        assertThat(unsubscribed.events).isEmpty();
    }

    /** Records what one listener heard, and on which threads. */
    private static final class Recorder implements MembershipListener {

        private record Event(Member member, Optional<LeaveReason> left) {}

        private final List<Event> events = new CopyOnWriteArrayList<>();
        private final List<String> threads = new CopyOnWriteArrayList<>();

        static Recorder on(Membership membership) {
            Recorder recorder = new Recorder();
            membership.onChange(recorder);
            return recorder;
        }

        @Override
        public void onJoined(Member member) {
            threads.add(Thread.currentThread().getName());
            events.add(new Event(member, Optional.empty()));
        }

        @Override
        public void onLeft(Member member, LeaveReason reason) {
            threads.add(Thread.currentThread().getName());
            events.add(new Event(member, Optional.of(reason)));
        }

        Optional<Member> joined(ReplicaId id) {
            return events.stream()
                    .filter(e -> e.member.id().equals(id) && e.left.isEmpty())
                    .map(Event::member)
                    .findFirst();
        }

        Optional<LeaveReason> left(ReplicaId id) {
            return events.stream()
                    .filter(e -> e.member.id().equals(id))
                    .flatMap(e -> e.left.stream())
                    .findFirst();
        }

        List<Event> eventsAbout(ReplicaId id) {
            return events.stream().filter(e -> e.member.id().equals(id)).toList();
        }

        List<String> threads() {
            return threads;
        }
    }
}
