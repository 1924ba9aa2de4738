package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ReplicaId;
import dev.chorus.sessions.Acceptance;
import dev.chorus.sessions.Dispatch;
import dev.chorus.sessions.DispatchResult;
import dev.chorus.sessions.DispatchResult.Outcome;
import dev.chorus.sessions.Session;
import dev.chorus.sessions.SessionHandler;
import dev.chorus.sessions.Sessions;
import dev.chorus.testkit.ChildJvm;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A session owner in another JVM on Redis, killed with SIGKILL or paused with SIGSTOP past its lease. */
class RedisSessionsProcessIT {

    static final Duration TTL = Duration.ofSeconds(2);
    static final Duration HEARTBEAT = Duration.ofMillis(200);
    static final Duration EXPIRY = Duration.ofSeconds(2);
    private static final Logger LOG = LoggerFactory.getLogger(RedisSessionsProcessIT.class);

    private RedisTestCluster cluster;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void setUp() {
        cluster = new RedisTestCluster("s-process");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        cluster.close();
    }

    private Sessions replica(String name) {
        ReplicaId id = ReplicaId.random(name);
        RedisConnector connector = cluster.connector();
        RedisBackplane backplane = cluster.replica(connector, name, b -> b.replica(id));
        RedisLeases leases = RedisLeases.builder(connector, id).build();
        closeables.add(leases);
        RedisMembership membership = RedisMembership.builder(connector, id)
                .heartbeatInterval(HEARTBEAT)
                .expiry(EXPIRY)
                .build();
        closeables.add(membership);
        Sessions sessions = Sessions.builder(backplane, leases)
                .leaseTtl(TTL)
                .membership(membership)
                .build();
        closeables.add(sessions);
        await().atMost(Duration.ofSeconds(30)).until(() -> backplane.health().isHealthy());
        return sessions;
    }

    private ChildJvm child(String name, String sessionId) throws Exception {
        ChildJvm child = ChildJvm.start(
                RedisSessionOwnerChild.class, name, cluster.server.uriWithPassword(), cluster.prefix, name, sessionId);
        closeables.add(child);
        return child;
    }

    private static DispatchResult dispatch(Sessions from, String sessionId, String text, Duration timeout)
            throws Exception {
        return from.dispatch(sessionId, text.getBytes(StandardCharsets.UTF_8), timeout)
                .toCompletableFuture()
                .get(timeout.plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS);
    }

    private static long handled(ChildJvm child) {
        return child.output().stream().filter(l -> l.startsWith("HANDLED ")).count();
    }

    @Test
    void ownerKilled_dispatchesAreNoLiveSessionWithinTheLeaseExpiry() throws Exception {
        Sessions a = replica("a");
        ChildJvm owner = child("owner", "agent-k");
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
        assertThat(handled(owner)).isEqualTo(1);
    }

    @Test
    void ownerPausedPastItsLease_neverActsOnAStaleTokenAndLearnsItLostTheSession() throws Exception {
        Sessions a = replica("a");
        Sessions c = replica("c");
        ChildJvm owner = child("paused", "agent-p");
        DispatchResult first = dispatch(a, "agent-p", "while owned", Duration.ofSeconds(10));
        assertThat(first.outcome()).isEqualTo(Outcome.DELIVERED);
        long oldToken = first.token();

        long pid = owner.process().pid();
        new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
        try {
            // Addressed to the paused owner with its old token: it must never act on this one.
            assertThat(dispatch(a, "agent-p", "stale", Duration.ofMillis(500)).outcome())
                    .isEqualTo(Outcome.TIMEOUT);
            List<String> ended = new CopyOnWriteArrayList<>();
            Session moved = c.claim("agent-p", new SessionHandler() {
                        @Override
                        public CompletionStage<Acceptance> onDispatch(Dispatch dispatch) {
                            return CompletableFuture.completedFuture(Acceptance.accept());
                        }

                        @Override
                        public void onEnded(Session session, Session.EndReason why, String reason) {
                            ended.add(why.name());
                        }
                    })
                    .get(30, TimeUnit.SECONDS);
            assertThat(moved.token()).isGreaterThan(oldToken);
            DispatchResult after = dispatch(a, "agent-p", "to the new owner", Duration.ofSeconds(10));
            assertThat(after.outcome()).isEqualTo(Outcome.DELIVERED);
            assertThat(after.token()).isEqualTo(moved.token());
            // Stay paused past the old lease's deadline.
            await().pollDelay(TTL.plusMillis(500)).until(() -> true);
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
        // Anything still queued for it arrives now; give it time to (wrongly) act on it.
        await().pollDelay(Duration.ofSeconds(1)).until(() -> true);
        assertThat(owner.output())
                .filteredOn(l -> l.startsWith("HANDLED "))
                .containsExactly("HANDLED " + oldToken + " while owned");
    }
}
