package dev.chorus.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Backplane;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A session owner in another JVM, killed with SIGKILL or paused with SIGSTOP past its lease, on every
 * transport. A subclass starts replicas in this JVM and the owner in a child whose main calls {@link
 * #runOwner}.
 */
public abstract class SessionsProcessKit {

    /** Session lease time to live, in this JVM and the child. */
    public static final Duration TTL = Duration.ofSeconds(2);
    /** Membership heartbeat interval, in this JVM and the child. */
    public static final Duration HEARTBEAT = Duration.ofMillis(200);
    /** Membership expiry, in this JVM and the child. */
    public static final Duration EXPIRY = Duration.ofSeconds(2);
    /** What a failover may take past the lease TTL on a loaded machine: store round trips and probes. */
    private static final Duration FAILOVER_SLACK = Duration.ofSeconds(3);

    private static final Logger LOG = LoggerFactory.getLogger(SessionsProcessKit.class);
    private final List<AutoCloseable> closeables = new ArrayList<>();

    /**
     * A replica in this JVM with sessions built with {@link #TTL}, membership with {@link #HEARTBEAT} and
     * {@link #EXPIRY}, its backplane HEALTHY; its parts registered with {@link #closeAfterTest}.
     */
    protected abstract Sessions replica(String name) throws Exception;

    /** Starts the child JVM that owns {@code sessionId}, its main calling {@link #runOwner}. */
    protected abstract ChildJvm owner(String name, String sessionId) throws Exception;

    /** Drops the test's channel, schema or keys, after every replica and child closed. */
    protected abstract void closeCluster() throws Exception;

    /** Closes {@code closeable} after the test, before {@link #closeCluster}, last registered first. */
    protected final <T extends AutoCloseable> T closeAfterTest(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        closeCluster();
    }

    /**
     * In the child: once {@code backplane} is HEALTHY (as a readiness probe would), claims {@code sessionId},
     * prints {@code HANDLED <token> <payload>} for each message acted on and {@code ENDED <why> <reason>},
     * reports READY and waits to be told to close.
     */
    public static void runOwner(Backplane backplane, Sessions sessions, String sessionId) throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(() -> backplane.health().isHealthy());
        sessions.claim(sessionId, new SessionHandler() {
                    @Override
                    public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                        print("HANDLED " + dispatch.token() + " "
                                + new String(dispatch.payload(), StandardCharsets.UTF_8));
                        return CompletableFuture.completedFuture(Acceptance.accept());
                    }

                    @Override
                    public void onEnded(Session session, Session.EndReason why, String reason) {
                        print("ENDED " + why + " " + reason);
                    }
                })
                .get(30, TimeUnit.SECONDS);
        ChildJvm.ready(backplane.replica().uuid());
        ChildJvm.awaitClose();
    }

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static DispatchResult dispatch(Sessions from, String sessionId, String text, Duration timeout)
            throws Exception {
        return from.dispatch(sessionId, text.getBytes(StandardCharsets.UTF_8), timeout)
                .toCompletableFuture()
                .get(timeout.plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS);
    }

    private static List<String> handled(ChildJvm child) {
        return child.output().stream().filter(l -> l.startsWith("HANDLED ")).toList();
    }

    @Test
    void ownerKilled_dispatchesAreNoLiveSessionWithinTheLeaseExpiry() throws Exception {
        Sessions a = replica("a");
        ChildJvm owner = closeAfterTest(owner("owner", "agent-k"));
        assertThat(dispatch(a, "agent-k", "before", Duration.ofSeconds(10)).outcome())
                .isEqualTo(Outcome.DELIVERED);

        long killed = System.nanoTime();
        owner.kill();

        await().atMost(TTL.plus(EXPIRY).plusSeconds(5))
                .until(() ->
                        dispatch(a, "agent-k", "after", Duration.ofMillis(500)).outcome() == Outcome.NO_LIVE_SESSION);
        LOG.info(
                "NO_LIVE_SESSION {} ms after kill -9",
                Duration.ofNanos(System.nanoTime() - killed).toMillis());
        assertThat(handled(owner)).hasSize(1);
    }

    @Test
    void ownerKilled_aDispatchInFlightGoesToTheNewClaimOrEndsWithinTheLeaseTtl() throws Exception {
        Sessions a = replica("a");
        Sessions c = replica("c");
        ChildJvm owner = closeAfterTest(owner("owner", "agent-r"));
        assertThat(dispatch(a, "agent-r", "before", Duration.ofSeconds(10)).outcome())
                .isEqualTo(Outcome.DELIVERED);
        // A second session on the same owner, whose client never comes back.
        ChildJvm lonely = closeAfterTest(owner("lonely", "agent-l"));
        assertThat(dispatch(a, "agent-l", "before", Duration.ofSeconds(10)).outcome())
                .isEqualTo(Outcome.DELIVERED);

        owner.kill();
        lonely.kill();
        long killed = System.nanoTime();
        // Both sent to a dead owner, with timeouts far past the bound below: neither may wait its timeout out.
        CompletableFuture<DispatchResult> moving = a.dispatch(
                        "agent-r", "after".getBytes(StandardCharsets.UTF_8), Duration.ofMinutes(5))
                .toCompletableFuture();
        CompletableFuture<DispatchResult> stranded = a.dispatch(
                        "agent-l", "after".getBytes(StandardCharsets.UTF_8), Duration.ofMinutes(5))
                .toCompletableFuture();
        List<String> onC = new java.util.concurrent.CopyOnWriteArrayList<>();
        Session moved = c.claim("agent-r", new SessionHandler() {
                    @Override
                    public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                        onC.add(new String(dispatch.payload(), StandardCharsets.UTF_8));
                        return CompletableFuture.completedFuture(Acceptance.accept());
                    }

                    @Override
                    public void onEnded(Session session, Session.EndReason why, String reason) {}
                })
                .get(30, TimeUnit.SECONDS);

        // The lease TTL bounds both (the stranded one ends when the dead owner's lease expires), plus slack.
        Duration bound = TTL.plus(FAILOVER_SLACK);
        DispatchResult delivered = moving.get(bound.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info(
                "Failed over to the new claim {} ms after kill -9",
                Duration.ofNanos(System.nanoTime() - killed).toMillis());
        DispatchResult ended = stranded.get(bound.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info(
                "NO_LIVE_SESSION {} ms after kill -9",
                Duration.ofNanos(System.nanoTime() - killed).toMillis());
        assertThat(delivered.outcome()).isEqualTo(Outcome.DELIVERED);
        assertThat(delivered.token()).isEqualTo(moved.token());
        assertThat(delivered.replica()).isEqualTo(moved.lease().holder());
        assertThat(onC).containsExactly("after");
        assertThat(ended.outcome()).isEqualTo(Outcome.NO_LIVE_SESSION);
        assertThat(handled(owner)).hasSize(1);
        assertThat(handled(lonely)).hasSize(1);
    }

    @Test
    void ownerPausedPastItsLease_neverActsOnAStaleTokenAndLearnsItLostTheSession() throws Exception {
        Sessions a = replica("a");
        Sessions c = replica("c");
        ChildJvm owner = closeAfterTest(owner("paused", "agent-p"));
        DispatchResult first = dispatch(a, "agent-p", "while owned", Duration.ofSeconds(10));
        assertThat(first.outcome()).isEqualTo(Outcome.DELIVERED);
        long oldToken = first.token();

        long pid = owner.process().pid();
        new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
        long pausedAt = System.nanoTime();
        try {
            // Addressed to the paused owner with its old token: it must never act on this one.
            assertThat(dispatch(a, "agent-p", "stale", Duration.ofMillis(500)).outcome())
                    .isEqualTo(Outcome.TIMEOUT);
            Session moved = c.claim("agent-p", new SessionHandler() {
                        @Override
                        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                            return CompletableFuture.completedFuture(Acceptance.accept());
                        }

                        @Override
                        public void onEnded(Session session, Session.EndReason why, String reason) {}
                    })
                    .get(30, TimeUnit.SECONDS);
            assertThat(moved.token()).isGreaterThan(oldToken);
            DispatchResult after = dispatch(a, "agent-p", "to the new owner", Duration.ofSeconds(10));
            assertThat(after.outcome()).isEqualTo(Outcome.DELIVERED);
            assertThat(after.token()).isEqualTo(moved.token());
            // The old owner's lease deadline lies at most one TTL after the pause began: stay paused past it.
            long deadline = TTL.plusMillis(500).toNanos();
            await().atMost(TTL.plusSeconds(5)).until(() -> System.nanoTime() - pausedAt > deadline);
        } finally {
            new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
        }

        await().atMost(Duration.ofSeconds(30))
                .until(() -> owner.output().stream().anyMatch(l -> l.startsWith("ENDED ")));
        assertThat(owner.output().stream()
                        .filter(l -> l.startsWith("ENDED "))
                        .findFirst()
                        .orElseThrow())
                .matches("ENDED (LEASE_LOST|SUPERSEDED) .*");
        // Anything still queued for it arrives now: for a while, it must act on none of it.
        await().during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(5))
                .until(() -> handled(owner).equals(List.of("HANDLED " + oldToken + " while owned")));
    }
}
