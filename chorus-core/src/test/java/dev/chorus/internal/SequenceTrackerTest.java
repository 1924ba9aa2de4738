package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.ReplicaId;
import dev.chorus.internal.SequenceTracker.Verdict;
import dev.chorus.wire.Envelope;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SequenceTrackerTest {

    private static final long START = 1_000_000L;
    private final ReplicaId origin = ReplicaId.random("a");
    private final SequenceTracker tracker = new SequenceTracker(START);

    @Test
    void consecutiveSequences_areInOrder() {
        assertThat(tracker.observe(envelope(START - 10, 7))).isEqualTo(Verdict.IN_ORDER);
        assertThat(tracker.observe(envelope(START - 10, 8))).isEqualTo(Verdict.IN_ORDER);
    }

    @Test
    void jump_isAGapNamingTheMissingRange() {
        tracker.observe(envelope(START, 1));

        assertThat(tracker.observe(envelope(START, 5))).isEqualTo(Verdict.GAP);
        assertThat(tracker.lastGapFrom()).isEqualTo(2);
        assertThat(tracker.lastGapTo()).isEqualTo(4);
        assertThat(tracker.observe(envelope(START, 6))).isEqualTo(Verdict.IN_ORDER);
    }

    @Test
    void repeatOrOlder_isDuplicate() {
        tracker.observe(envelope(START, 3));

        assertThat(tracker.observe(envelope(START, 3))).isEqualTo(Verdict.DUPLICATE);
        assertThat(tracker.observe(envelope(START, 2))).isEqualTo(Verdict.DUPLICATE);
        assertThat(tracker.observe(envelope(START - 1, 99))).isEqualTo(Verdict.DUPLICATE);
    }

    @Test
    void newerEpoch_isReported() {
        tracker.observe(envelope(START, 3));

        assertThat(tracker.observe(envelope(START + 1, 1))).isEqualTo(Verdict.NEW_EPOCH);
        assertThat(tracker.observe(envelope(START + 1, 2))).isEqualTo(Verdict.IN_ORDER);
    }

    @Test
    void firstEnvelopeOfAnOriginThatStartedLater_mustBeginAtOne() {
        long later = START + SequenceTracker.CLOCK_SKEW_MILLIS + 1;

        assertThat(tracker.observe(envelope(later, 3))).isEqualTo(Verdict.GAP);
        assertThat(tracker.lastGapFrom()).isEqualTo(1);
        assertThat(tracker.lastGapTo()).isEqualTo(2);
    }

    @Test
    void firstEnvelopeOfAnOlderOrigin_isABaseline() {
        assertThat(tracker.observe(envelope(START - 60_000, 500))).isEqualTo(Verdict.IN_ORDER);
    }

    @Test
    void afterRebase_nextEnvelopeIsABaselineButDuplicatesStillDrop() {
        tracker.observe(envelope(START, 3));
        tracker.rebase();

        assertThat(tracker.observe(envelope(START, 3))).isEqualTo(Verdict.DUPLICATE);
        tracker.rebase();
        assertThat(tracker.observe(envelope(START, 9))).isEqualTo(Verdict.IN_ORDER);
        assertThat(tracker.observe(envelope(START, 11))).isEqualTo(Verdict.GAP);
    }

    @Test
    void unsequencedEnvelopes_areNeverTrackedNorDropped() {
        tracker.observe(envelope(START, 4));

        assertThat(tracker.observe(envelope(START, 0))).isEqualTo(Verdict.IN_ORDER);
        assertThat(tracker.observe(envelope(START, 0))).isEqualTo(Verdict.IN_ORDER);
        assertThat(tracker.observe(envelope(START, 5))).isEqualTo(Verdict.IN_ORDER);
    }

    private Envelope envelope(long epoch, long sequence) {
        return Envelope.of(
                Envelope.Kind.MESSAGE, "c", origin, epoch, sequence, Instant.now(), "t", Map.of(), new byte[0]);
    }
}
