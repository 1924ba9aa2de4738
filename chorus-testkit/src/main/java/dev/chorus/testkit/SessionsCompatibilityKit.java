package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Backplane;
import dev.chorus.leases.Leases;
import dev.chorus.membership.Membership;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.DispatchResult.Outcome;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * What sessions and dispatch must do on every transport and lease store: deliver to the owner with an
 * acknowledgement, fail fast without an owner, let the newest claim win and tell the old holder, and
 * fail closed when the store is out of reach.
 */
public abstract class SessionsCompatibilityKit {

    /** The lease time to live every test uses: short, so expiry tests take seconds. */
    protected static final Duration TTL = Duration.ofSeconds(2);

    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private static final Duration LONG = Duration.ofSeconds(30);

    /** One replica's parts on the store under test. */
    public record Replica(Backplane backplane, Leases leases, Membership membership) {}

    /** One test's cluster on the transport and store under test. */
    public interface Cluster extends AutoCloseable {
        /** Starts one more replica: its backplane, lease store and membership. */
        Replica join(String name) throws Exception;

        /** Cuts and heals a replica's links to its store and transport; empty if not supported. */
        default Optional<BackplaneCompatibilityKit.Faults> faults() {
            return Optional.empty();
        }

        /** Stops every replica and drops the test's data. */
        @Override
        void close() throws Exception;
    }

    /** Creates this test's cluster. */
    protected abstract Cluster newCluster(String testName) throws Exception;

    private Cluster cluster;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void createCluster(TestInfo info) throws Exception {
        cluster = newCluster(info.getTestMethod().map(m -> m.getName()).orElse("test"));
    }

    @AfterEach
    void closeCluster() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.close();
    }

    private Node node(String name) throws Exception {
        return node(name, Sessions.DEFAULT_OWNER_SILENCE);
    }

    private Node node(String name, Duration ownerSilence) throws Exception {
        Replica replica = cluster.join(name);
        KillableLeases leases = new KillableLeases(replica.leases());
        Sessions sessions = Sessions.builder(replica.backplane(), leases)
                .leaseTtl(TTL)
                .ownerSilence(ownerSilence)
                .membership(replica.membership())
                .build();
        closeables.add(sessions);
        Node node = new Node(replica, sessions, leases);
        await().atMost(PATIENCE).until(() -> replica.backplane().health().isHealthy());
        return node;
    }

    private record Node(Replica replica, Sessions sessions, KillableLeases leases) {
        /** As {@code kill -9} leaves it: no answers on the backplane, no renewals; membership not told. */
        void kill() {
            leases.kill();
            replica.backplane().close();
        }

        dev.chorus.ReplicaId id() {
            return replica.backplane().replica();
        }
    }

    /** A handler that records what it receives and answers with {@code answer}. */
    private static final class Recording implements SessionHandler {
        final List<Dispatch> received = new CopyOnWriteArrayList<>();
        final List<String> ended = new CopyOnWriteArrayList<>();
        final Function<Dispatch, CompletionStage<Acceptance>> answer;

        Recording(Function<Dispatch, CompletionStage<Acceptance>> answer) {
            this.answer = answer;
        }

        Recording() {
            this(d -> CompletableFuture.completedFuture(Acceptance.accept()));
        }

        @Override
        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
            received.add(dispatch);
            return answer.apply(dispatch);
        }

        @Override
        public void onEnded(Session session, Session.EndReason why, String reason) {
            ended.add(why + ": " + reason);
        }

        List<String> texts() {
            return received.stream()
                    .map(d -> new String(d.payload(), StandardCharsets.UTF_8))
                    .toList();
        }
    }

    private static DispatchResult dispatch(Node from, String sessionId, String text, Duration timeout)
            throws Exception {
        return from.sessions()
                .dispatch(sessionId, text.getBytes(StandardCharsets.UTF_8), timeout)
                .toCompletableFuture()
                .get(timeout.plusSeconds(10).toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void dispatchFromOneReplicaToASessionOnAnother_isDeliveredWithOwnerAndToken() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Recording handler = new Recording();
        Session session = b.sessions().claim("agent-1", handler).get(20, TimeUnit.SECONDS);

        DispatchResult result = dispatch(a, "agent-1", "config v1", PATIENCE);

        assertThat(result.outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(result.replica()).isEqualTo(b.replica().backplane().replica());
        assertThat(result.token()).isEqualTo(session.token());
        assertThat(result.roundTrip()).isPositive();
        assertThat(handler.texts()).containsExactly("config v1");
        assertThat(handler.received.get(0).from())
                .isEqualTo(a.replica().backplane().replica());
    }

    @Test
    void dispatchToALocalSession_isDelivered() throws Exception {
        Node a = node("a");
        Recording handler = new Recording();
        a.sessions().claim("local", handler).get(20, TimeUnit.SECONDS);

        assertThat(dispatch(a, "local", "hi", PATIENCE).outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(handler.texts()).containsExactly("hi");
    }

    @Test
    void dispatchToASessionNobodyHolds_isNoLiveSessionWithoutWaitingForTheTimeout() throws Exception {
        Node a = node("a");
        node("b");

        CompletableFuture<DispatchResult> result = a.sessions()
                .dispatch("nobody", new byte[] {1}, Duration.ofMinutes(5))
                .toCompletableFuture();

        // Far shorter than the dispatch timeout: the answer comes from the lease store, not from waiting.
        DispatchResult outcome = result.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(outcome.outcome()).isEqualTo(Outcome.NO_LIVE_SESSION);
        assertThat(outcome.reason()).contains("no replica holds session nobody");
    }

    @Test
    void aRejectingHandler_isReportedWithItsReason() throws Exception {
        Node a = node("a");
        Node b = node("b");
        b.sessions()
                .claim(
                        "picky",
                        new Recording(d -> CompletableFuture.completedFuture(Acceptance.reject("schema v9 unknown"))))
                .get(20, TimeUnit.SECONDS);

        DispatchResult result = dispatch(a, "picky", "x", PATIENCE);

        assertThat(result.outcome()).isEqualTo(Outcome.REJECTED);
        assertThat(result.reason()).isEqualTo("schema v9 unknown");
    }

    @Test
    void aHandlerThatThrowsAnyThrowableOrReturnsNull_isRejectedNotTimedOut() throws Exception {
        Node a = node("a");
        Node b = node("b");
        b.sessions()
                .claim("sneaky", new Recording(d -> sneakyThrow(new java.io.IOException("socket gone"))))
                .get(20, TimeUnit.SECONDS);
        b.sessions().claim("null", new Recording(d -> null)).get(20, TimeUnit.SECONDS);

        DispatchResult sneaky = dispatch(a, "sneaky", "x", PATIENCE);
        DispatchResult nothing = dispatch(a, "null", "x", PATIENCE);

        assertThat(sneaky.outcome()).isEqualTo(Outcome.REJECTED);
        assertThat(sneaky.reason()).contains("socket gone");
        assertThat(nothing.outcome()).isEqualTo(Outcome.REJECTED);
    }

    @SuppressWarnings("unchecked")
    private static <T, E extends Throwable> T sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    @Test
    void aDispatchAfterClose_isRejectedAtOnceAndNothingIsSent() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Recording handler = new Recording();
        b.sessions().claim("after-close", handler).get(20, TimeUnit.SECONDS);

        a.sessions().close();
        DispatchResult result = dispatch(a, "after-close", "x", PATIENCE);

        assertThat(result.outcome()).isEqualTo(Outcome.REJECTED);
        assertThat(result.reason()).contains("is closed; nothing was sent");
        assertThat(handler.received).isEmpty();
    }

    @Test
    void aHandlerThatNeverAnswers_timesOut() throws Exception {
        Node a = node("a");
        Node b = node("b");
        b.sessions()
                .claim("silent", new Recording(d -> new CompletableFuture<>()))
                .get(20, TimeUnit.SECONDS);

        DispatchResult result = dispatch(a, "silent", "x", Duration.ofMillis(500));

        assertThat(result.outcome()).isEqualTo(Outcome.TIMEOUT);
        assertThat(result.reason())
                .contains("no answer from replica " + b.replica().backplane().replica());
    }

    @Test
    void aDrainingOwner_answersOwnerDraining() throws Exception {
        Node a = node("a");
        Node b = node("b");
        b.sessions().claim("leaving", new Recording()).get(20, TimeUnit.SECONDS);

        b.sessions().drain();

        assertThat(dispatch(a, "leaving", "x", PATIENCE).outcome()).isEqualTo(Outcome.OWNER_DRAINING);
    }

    @Test
    void aClosedSession_isNoLiveSessionAndClaimableElsewhere() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Session session = b.sessions().claim("gone", new Recording()).get(20, TimeUnit.SECONDS);

        session.close();

        await().atMost(PATIENCE).until(() -> dispatch(a, "gone", "x", PATIENCE).outcome() == Outcome.NO_LIVE_SESSION);
        Session again = a.sessions().claim("gone", new Recording()).get(20, TimeUnit.SECONDS);
        assertThat(again.token()).isGreaterThan(session.token());
    }

    @Test
    void aClientReconnectingElsewhere_movesTheSessionAndTheOldHolderClosesWithTheReason() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Node c = node("c");
        Recording onB = new Recording();
        Recording onC = new Recording();
        Session old = b.sessions().claim("agent-7", onB).get(20, TimeUnit.SECONDS);

        Session moved = c.sessions().claim("agent-7", onC).get(20, TimeUnit.SECONDS);

        assertThat(moved.token()).isGreaterThan(old.token());
        await().atMost(PATIENCE).until(() -> !onB.ended.isEmpty());
        assertThat(onB.ended.get(0))
                .startsWith("SUPERSEDED")
                .contains(c.replica().backplane().replica().toString());
        assertThat(old.isActive()).isFalse();
        DispatchResult result = dispatch(a, "agent-7", "after the move", PATIENCE);
        assertThat(result.outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(result.replica()).isEqualTo(c.replica().backplane().replica());
        assertThat(result.token()).isEqualTo(moved.token());
        assertThat(onC.texts()).containsExactly("after the move");
        assertThat(onB.received).isEmpty();
    }

    @Test
    void aDispatchToAKilledOwner_failsOverAtOnceToTheReplicaTheClientReconnectedTo() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Node c = node("c");
        Recording onB = new Recording();
        Recording onC = new Recording();
        b.sessions().claim("agent-f", onB).get(20, TimeUnit.SECONDS);
        assertThat(dispatch(a, "agent-f", "before", PATIENCE).replica()).isEqualTo(b.id());

        b.kill();
        // Sent to the dead owner, which stays the owner in the store until the client reconnects.
        CompletableFuture<DispatchResult> waiting = a.sessions()
                .dispatch("agent-f", "during".getBytes(StandardCharsets.UTF_8), Duration.ofMinutes(5))
                .toCompletableFuture();
        Session moved = c.sessions().claim("agent-f", onC).get(20, TimeUnit.SECONDS);

        // Far shorter than the dispatch timeout: the silent owner is checked against the store, not waited out.
        DispatchResult result = waiting.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        if (result.outcome() == Outcome.NO_LIVE_SESSION) {
            // Where membership is the transport's own view (JGroups), closing B's transport is B leaving: the
            // dispatch may end at once, before the client reconnected, and the next one reaches the new owner.
            assertThat(result.reason()).contains("membership saw it leave");
            result = dispatch(a, "agent-f", "during", PATIENCE);
        }
        assertThat(result.outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(result.replica()).isEqualTo(c.id());
        assertThat(result.token()).isEqualTo(moved.token());
        assertThat(onC.texts()).containsExactly("during");
        assertThat(onB.texts()).containsExactly("before");
    }

    @Test
    void aDispatchToAKilledOwnerNobodyReplaces_isNoLiveSessionOnceItsLeaseExpires() throws Exception {
        Node a = node("a");
        Node b = node("b");
        b.sessions().claim("agent-gone", new Recording()).get(20, TimeUnit.SECONDS);
        assertThat(dispatch(a, "agent-gone", "before", PATIENCE).outcome()).isEqualTo(Outcome.DELIVERED);

        b.kill();
        CompletableFuture<DispatchResult> waiting = a.sessions()
                .dispatch("agent-gone", new byte[] {1}, Duration.ofMinutes(5))
                .toCompletableFuture();

        DispatchResult result = waiting.get(TTL.plus(PATIENCE).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(result.outcome()).isEqualTo(Outcome.NO_LIVE_SESSION);
        // The lease store (its lease expired) or, where membership is the transport's view, membership says so.
        assertThat(result.reason()).containsAnyOf("no replica holds session agent-gone", "membership saw it leave");
    }

    @Test
    void anOwnerThatMembershipReportsGone_isForgottenAndItsWaitingDispatchesAnsweredAtOnce() throws Exception {
        // Owners are asked about only after five minutes of silence here: only membership can end the wait.
        Node a = node("a", Duration.ofMinutes(5));
        Node b = node("b");
        b.sessions().claim("agent-m", new Recording()).get(20, TimeUnit.SECONDS);
        assertThat(dispatch(a, "agent-m", "before", PATIENCE).outcome()).isEqualTo(Outcome.DELIVERED);
        // Membership reports only the departure of a member it saw join.
        await().atMost(PATIENCE)
                .until(() -> a.replica().membership().members().stream()
                        .anyMatch(member -> member.id().equals(b.id())));

        b.replica().backplane().close(); // it stops answering, and keeps renewing its lease
        CompletableFuture<DispatchResult> waiting = a.sessions()
                .dispatch("agent-m", new byte[] {1}, Duration.ofMinutes(5))
                .toCompletableFuture();
        b.replica().membership().close();

        DispatchResult result = waiting.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(result.outcome()).isEqualTo(Outcome.NO_LIVE_SESSION);
        assertThat(result.reason()).contains("membership saw it leave");
    }

    @Test
    void aLiveOwnerWithASlowHandler_isWaitedForNotFailedOverFrom() throws Exception {
        Node a = node("a", Duration.ofMillis(50));
        Node b = node("b");
        Recording slow = new Recording(d -> CompletableFuture.supplyAsync(
                Acceptance::accept, CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS)));
        b.sessions().claim("agent-slow", slow).get(20, TimeUnit.SECONDS);

        DispatchResult result = dispatch(a, "agent-slow", "take your time", PATIENCE);

        assertThat(result.outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(result.replica()).isEqualTo(b.id());
        assertThat(slow.texts()).containsExactly("take your time");
        assertThat(a.sessions().stats().get("silentOwners")).isPositive();
        assertThat(a.sessions().stats().get("failedOver")).isZero();
    }

    @Test
    void manyClientsReconnectingAtOnce_areAllClaimedAndReachable() throws Exception {
        Node a = node("a");
        Node c = node("c");
        List<CompletableFuture<Session>> claims = new ArrayList<>();
        List<Recording> handlers = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            Recording handler = new Recording();
            handlers.add(handler);
            claims.add(c.sessions().claim("storm-" + i, handler));
        }
        // The same client twice in the storm: the later claim wins, the earlier ends SUPERSEDED.
        Recording first = new Recording();
        Recording second = new Recording();
        CompletableFuture<Session> early = c.sessions().claim("storm-twice", first);
        CompletableFuture<Session> late = c.sessions().claim("storm-twice", second);

        CompletableFuture.allOf(claims.toArray(CompletableFuture[]::new))
                .get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(claims.stream().map(f -> f.join().token()).distinct()).hasSize(claims.size());
        assertThat(late.get(20, TimeUnit.SECONDS).token())
                .isGreaterThan(early.get(20, TimeUnit.SECONDS).token());
        for (int i = 0; i < claims.size(); i += 30) {
            assertThat(dispatch(a, "storm-" + i, "hello " + i, PATIENCE).outcome())
                    .isEqualTo(Outcome.DELIVERED);
            assertThat(handlers.get(i).texts()).containsExactly("hello " + i);
        }
        assertThat(dispatch(a, "storm-twice", "which", PATIENCE).outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(second.texts()).containsExactly("which");
        assertThat(first.texts()).isEmpty();
    }

    @Test
    void sessionsSpreadOverReplicas_areAllReachableFromEveryReplica() throws Exception {
        List<Node> nodes = List.of(node("a"), node("b"), node("c"));
        List<Recording> handlers = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            Recording handler = new Recording();
            handlers.add(handler);
            nodes.get(i % 3).sessions().claim("s" + i, handler).get(20, TimeUnit.SECONDS);
        }
        List<CompletableFuture<DispatchResult>> results = new ArrayList<>();
        for (Node from : nodes) {
            for (int i = 0; i < 12; i++) {
                results.add(from.sessions()
                        .dispatch(
                                "s" + i,
                                ("from " + from.replica().backplane().replica().name()).getBytes(),
                                PATIENCE)
                        .toCompletableFuture());
            }
        }
        for (CompletableFuture<DispatchResult> result : results) {
            assertThat(result.get(LONG.toMillis(), TimeUnit.MILLISECONDS).outcome())
                    .isEqualTo(Outcome.DELIVERED);
        }
        for (Recording handler : handlers) {
            assertThat(handler.texts()).containsExactlyInAnyOrder("from a", "from b", "from c");
        }
    }

    @Test
    void anOwnerCutOffFromItsStore_stopsActingAtItsLeaseDeadline() throws Exception {
        Optional<BackplaneCompatibilityKit.Faults> faults = cluster.faults();
        Assumptions.assumeTrue(faults.isPresent(), "this cluster cannot cut a replica off its store");
        node("a");
        Node b = node("b");
        Recording onB = new Recording();
        Session session = b.sessions().claim("cut", onB).get(20, TimeUnit.SECONDS);

        faults.get().disconnect(b.replica().backplane());

        await().atMost(TTL.plus(PATIENCE)).until(() -> !onB.ended.isEmpty());
        assertThat(onB.ended.get(0)).startsWith("LEASE_LOST");
        assertThat(session.isActive()).isFalse();
        assertThat(b.sessions().local("cut")).isEmpty();
        faults.get().heal(b.replica().backplane());
    }
}
