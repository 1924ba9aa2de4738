package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.testing.MutableClock;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import dev.chorus.wire.Rejection;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Issue 20: signed envelopes are refused outside the replay window and from superseded epochs. */
class ReplayGuardTest {

    private static final Duration WINDOW = Duration.ofMinutes(5);
    private static final Secret SECRET = new Secret("replay-guard-test-secret-0123");

    private final MutableClock clock = new MutableClock();
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger log = (Logger) LoggerFactory.getLogger(ReplayGuard.class);

    @AfterEach
    void detach() {
        log.detachAppender(logs);
    }

    @Test
    void check_acceptsInsideTheWindowBothWays_andRefusesBeyondIt() {
        ReplayGuard guard = new ReplayGuard(clock, WINDOW);
        ReplicaId origin = ReplicaId.random("o");
        Instant now = clock.instant();

        assertThat(guard.check(envelope(origin, 1, now))).isNull();
        assertThat(guard.check(envelope(origin, 1, now.minus(WINDOW)))).isNull();
        assertThat(guard.check(envelope(origin, 1, now.plus(WINDOW)))).isNull();
        assertThat(guard.check(envelope(origin, 1, now.minus(WINDOW).minusMillis(1))))
                .contains("ago, outside the replay window of 300 s");
        assertThat(guard.check(envelope(origin, 1, now.plus(WINDOW).plusMillis(1))))
                .contains("in the future")
                .contains("NTP");
    }

    @Test
    void check_refusesAnOlderEpochOnceANewerOneWasHeard_onAnyTopic() {
        ReplayGuard guard = new ReplayGuard(clock, WINDOW);
        ReplicaId origin = ReplicaId.random("restarted");
        Instant now = clock.instant();

        assertThat(guard.check(envelope(origin, 100, now)))
                .as("never heard: fresh is enough")
                .isNull();
        assertThat(guard.check(envelope(origin, 200, now))).as("a restart").isNull();
        assertThat(guard.check(envelope(origin, 100, now))).contains("has since started epoch 200");
        assertThat(guard.check(envelope(ReplicaId.random("other"), 100, now)))
                .as("epochs are per origin")
                .isNull();
    }

    @Test
    void backplane_countsReplays_logsOncePerOriginAtWarn_andDeliversFreshOnes() {
        logs.start();
        log.addAppender(logs);
        EnvelopeCodec codec = EnvelopeCodec.builder("replay").secret(SECRET).build();
        try (Wire receiver = new Wire(codec, clock)) {
            List<String> delivered = new CopyOnWriteArrayList<>();
            receiver.subscribe("t", e -> delivered.add(e.payloadAsString()));
            ReplicaId a = ReplicaId.random("a");
            ReplicaId b = ReplicaId.random("b");
            byte[] recordedA = codec.encode(envelope(a, 1, clock.instant(), "old a"));
            byte[] recordedB = codec.encode(envelope(b, 1, clock.instant(), "old b"));
            clock.advance(WINDOW.plusSeconds(1));

            receiver.receive(recordedA);
            receiver.receive(recordedA);
            receiver.receive(recordedB);
            receiver.receive(codec.encode(envelope(a, 1, clock.instant(), "fresh a")));

            assertThat(receiver.stats().rejected().get(Rejection.REPLAYED)).isEqualTo(3);
            org.awaitility.Awaitility.await().until(() -> delivered.contains("fresh a"));
            assertThat(delivered).containsExactly("fresh a");
            assertThat(logs.list.stream().filter(e -> e.getLevel() == Level.WARN))
                    .hasSize(2)
                    .allSatisfy(e -> assertThat(e.getFormattedMessage()).contains("as a replay"));
            assertThat(receiver.health().details()).containsEntry("replayWindowSeconds", 300L);
        }
    }

    @Test
    void backplane_unsignedNetworked_reportsItInHealth_andChecksNoFreshness() {
        EnvelopeCodec codec = EnvelopeCodec.forCluster("replay");
        try (Wire receiver = new Wire(codec, clock)) {
            byte[] old = codec.encode(envelope(ReplicaId.random("a"), 1, clock.instant(), "old"));
            clock.advance(WINDOW.plusSeconds(1));
            receiver.receive(old);

            assertThat(receiver.stats().rejected().get(Rejection.REPLAYED)).isZero();
            assertThat(receiver.health().details())
                    .containsEntry("signed", false)
                    .hasEntrySatisfying(
                            "unsigned",
                            v -> assertThat(v.toString())
                                    .contains("anyone who can publish on test channel 'replay' can inject messages"));
        }
    }

    private static Envelope envelope(ReplicaId origin, long epoch, Instant at) {
        return envelope(origin, epoch, at, "x");
    }

    private static Envelope envelope(ReplicaId origin, long epoch, Instant at, String text) {
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                "replay",
                origin,
                epoch,
                1,
                at,
                "t",
                Map.of(),
                text.getBytes(StandardCharsets.UTF_8));
    }

    /** A networked transport whose bytes the test hands in. */
    private static final class Wire extends AbstractBackplane {
        Wire(EnvelopeCodec codec, Clock clock) {
            super("test", ReplicaId.random("receiver"), codec, clock, 1024, WINDOW);
            connectionRestored("test");
        }

        void receive(byte[] bytes) {
            received(bytes);
        }

        @Override
        protected CompletableFuture<Void> transmit(Envelope envelope, byte[] bytes) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        protected void doClose() {}
    }
}
