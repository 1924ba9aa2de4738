package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.ReplicaId;
import dev.chorus.testing.MutableClock;
import dev.chorus.testing.Properties;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** History, positions and resume planning, without threads or a backplane. */
class LedgerTest {

    private static final long SELF = 100;
    private static final long A = 1;
    private static final long B = 2;
    private static final ReplicaId RA = ReplicaId.random("a");
    private static final ReplicaId RB = ReplicaId.random("b");
    private static final Identity ALICE = Identity.of("alice", "acme");

    private final MutableClock clock = new MutableClock();
    private final Ledger ledger = ledger(100, Duration.ofMinutes(5));

    private Ledger ledger(int size, Duration age) {
        return new Ledger(SELF, ReplicaId.random("self"), size, age.toMillis(), clock);
    }

    private static Event event(String text) {
        return Event.of("t", text);
    }

    private static Ledger.Entry receive(Ledger ledger, long origin, long seq, Audience audience) {
        Ledger.Received received =
                ledger.received(origin, origin == A ? RA : RB, seq, audience, event(origin + ":" + seq));
        assertThat(received.entry()).as("entry for %s:%s", origin, seq).isNotNull();
        return received.entry();
    }

    private static Ledger.Entry receive(Ledger ledger, long origin, long seq) {
        return receive(ledger, origin, seq, Audience.EVERYONE);
    }

    private Ledger.Plan resume(String id) {
        return ledger.resume(id, ALICE::sees, 1_000);
    }

    private static List<String> replayed(Ledger.Plan plan) {
        assertThat(plan).isInstanceOf(Ledger.Replay.class);
        return ((Ledger.Replay) plan)
                .entries().stream().map(e -> e.event().text()).toList();
    }

    private static Reload.Reason refusal(Ledger.Plan plan) {
        assertThat(plan).isInstanceOf(Ledger.Refused.class);
        return ((Ledger.Refused) plan).reason();
    }

    @Test
    void resume_replaysWhatCameAfterTheIdInArrivalOrder_filteredByIdentity() {
        receive(ledger, A, 1);
        Ledger.Entry mark = receive(ledger, B, 1);
        receive(ledger, A, 2, Audience.user("", "bob"));
        receive(ledger, B, 2, Audience.user("", "alice"));
        receive(ledger, A, 3, Audience.group("", "acme"));
        receive(ledger, B, 3, Audience.group("", "globex"));
        receive(ledger, A, 4);

        assertThat(replayed(resume(mark.id()))).containsExactly("2:2", "1:3", "1:4");
    }

    @Test
    void resume_fromTheNewestId_replaysNothing_andAnIdAheadOfThisReplicaToo() {
        receive(ledger, A, 1);
        Ledger.Entry newest = receive(ledger, A, 2);
        Position ahead = newest.position().with(A, 9);

        assertThat(replayed(resume(newest.id()))).isEmpty();
        assertThat(replayed(resume(EventIds.encode(ahead, clock.millis())))).isEmpty();
    }

    @Test
    void resume_withoutAnOrigin_replaysItFromItsFirstEvent_onlyIfTheHistoryHoldsItFromThere() throws Exception {
        // The id of the first event names no B: B was not heard of yet when it was issued.
        String withoutB = receive(ledger, A, 1).id();
        assertThat(EventIds.decode(withoutB).position())
                .isEqualTo(Position.EMPTY.with(SELF, 0).with(A, 1));
        receive(ledger, B, 1);
        receive(ledger, B, 2);
        assertThat(replayed(resume(withoutB))).containsExactly("2:1", "2:2");

        Ledger late = ledger(100, Duration.ofMinutes(5));
        receive(late, A, 1);
        receive(late, B, 5); // first heard of B at 5: 1..4 happened before this replica listened
        assertThat(refusal(late.resume(withoutB, ALICE::sees, 100))).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
    }

    @Test
    void anOriginFirstHeardPastItsStart_isAGapBeforeFirstHeard_whoseResumeFloorStaysFirstHeard() {
        Ledger.Entry mark = receive(ledger, A, 1);
        assertThat(ledger.received(A, RA, 2, Audience.EVERYONE, event("1:2")).gap())
                .isNull();

        Ledger.Received midStream = ledger.received(B, RB, 5, Audience.EVERYONE, event("2:5"));
        assertThat(midStream.gap()).isEqualTo(new Ledger.Gap(B, RB, 1, 4, true));
        assertThat(midStream.entry()).isNotNull();
        assertThat(ledger.announced(3, RB, 7)).isEqualTo(new Ledger.Gap(3, RB, 1, 7, true));
        assertThat(ledger.announced(4, RB, 0)).as("a new hub's SYNC").isNull();
        assertThat(ledger.received(5, RB, 1, Audience.EVERYONE, event("5:1")).gap())
                .as("a hub first heard at its first event")
                .isNull();

        assertThat(refusal(resume(mark.id()))).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
    }

    @Test
    void resume_beforeEvictedEvents_isRefused_afterThemIsServed() {
        Ledger small = ledger(3, Duration.ofMinutes(5));
        Ledger.Entry e1 = receive(small, A, 1);
        Ledger.Entry e2 = receive(small, A, 2);
        receive(small, A, 3);
        receive(small, A, 4);
        receive(small, A, 5); // evicts A:1 and A:2: an id at A:1 needs A:2

        assertThat(refusal(small.resume(e1.id(), ALICE::sees, 100))).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
        assertThat(replayed(small.resume(e2.id(), ALICE::sees, 100))).containsExactly("1:3", "1:4", "1:5");
    }

    @Test
    void resume_acrossEventsOlderThanTheHistoryAge_isRefused() {
        Ledger.Entry e1 = receive(ledger, A, 1);
        receive(ledger, A, 2);
        clock.advance(Duration.ofMinutes(6));

        assertThat(refusal(resume(e1.id()))).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
    }

    @Test
    void aSequenceJump_isAGap_andResumeAcrossItIsRefused() {
        Ledger.Entry before = receive(ledger, A, 1);
        Ledger.Received jumped = ledger.received(A, RA, 4, Audience.EVERYONE, event("1:4"));

        assertThat(jumped.gap()).isEqualTo(new Ledger.Gap(A, RA, 2, 3, false));
        assertThat(refusal(resume(before.id()))).isEqualTo(Reload.Reason.LOSS_DETECTED);
        assertThat(replayed(resume(jumped.entry().id()))).isEmpty();
    }

    @Test
    void duplicates_areDropped() {
        receive(ledger, A, 1);
        receive(ledger, A, 2);

        assertThat(ledger.received(A, RA, 2, Audience.EVERYONE, event("again")).entry())
                .isNull();
        assertThat(ledger.size()).isEqualTo(2);
    }

    @Test
    void anAnnouncedPositionBeyondWhatArrived_isAGap_andAnEqualOneIsNot() {
        Ledger.Entry e1 = receive(ledger, A, 1);

        assertThat(ledger.announced(A, RA, 1)).isNull();
        assertThat(ledger.announced(A, RA, 3)).isEqualTo(new Ledger.Gap(A, RA, 2, 3, false));
        assertThat(ledger.position().get(A)).isEqualTo(3);
        assertThat(refusal(resume(e1.id()))).isEqualTo(Reload.Reason.LOSS_DETECTED);
    }

    @Test
    void suspectedLoss_refusesResumesUntilTheOriginShowsItsPosition() {
        Ledger.Entry e1 = receive(ledger, A, 1);
        receive(ledger, B, 1);
        ledger.suspect(null);

        assertThat(refusal(resume(e1.id()))).isEqualTo(Reload.Reason.LOSS_DETECTED);
        assertThat(ledger.announced(A, RA, 1)).isNull();
        assertThat(refusal(resume(e1.id()))).as("B still unconfirmed").isEqualTo(Reload.Reason.LOSS_DETECTED);
        receive(ledger, B, 2); // the next in sequence: nothing of B went missing

        assertThat(replayed(resume(e1.id()))).containsExactly("2:1", "2:2");
    }

    @Test
    void suspectingOneReplica_leavesTheOthersConfirmed() {
        Ledger.Entry e1 = receive(ledger, A, 1);
        receive(ledger, B, 1);

        ledger.suspect(RB);
        assertThat(refusal(resume(e1.id()))).isEqualTo(Reload.Reason.LOSS_DETECTED);
        assertThat(ledger.announced(B, RB, 1)).isNull();

        assertThat(replayed(resume(e1.id()))).containsExactly("2:1");
    }

    @Test
    void anOriginThisReplicaNeverHeardOf_isRefused() {
        String foreign = EventIds.encode(Position.EMPTY.with(777, 3), clock.millis());

        assertThat(refusal(resume(foreign))).isEqualTo(Reload.Reason.UNKNOWN_ORIGIN);
    }

    @Test
    void malformedIds_areRefusedAsInvalid() {
        for (String id : List.of("", "x", "!!!", "AAAAAAAAAAAAAAAA")) {
            Ledger.Plan plan = resume(id);
            assertThat(refusal(plan)).isEqualTo(Reload.Reason.INVALID_ID);
            assertThat(((Ledger.Refused) plan).detail()).contains("event id");
        }
    }

    @Test
    void moreMissedEventsThanTheQueueHolds_isRefused() {
        Ledger.Entry e1 = receive(ledger, A, 1);
        for (int seq = 2; seq <= 12; seq++) {
            receive(ledger, A, seq);
        }

        assertThat(refusal(ledger.resume(e1.id(), ALICE::sees, 10))).isEqualTo(Reload.Reason.TOO_MANY_MISSED);
        assertThat(replayed(ledger.resume(e1.id(), ALICE::sees, 11))).hasSize(11);
    }

    @Test
    void aSilentOriginWithNothingLeft_isRetiredFromIds_andIdsIssuedLaterStillResume() {
        Ledger.Entry old = receive(ledger, A, 1);
        clock.advance(Duration.ofMinutes(6));
        ledger.expire();
        assertThat(ledger.position().contains(A)).isFalse();
        Ledger.Entry own = ledger.own(ledger.nextOwnSeq(), Audience.EVERYONE, event("own"));

        assertThat(replayed(resume(own.id()))).isEmpty();
        assertThat(replayed(resume(old.id()))).as("it had considered all of A").containsExactly("own");
        String issuedBeforeItsEvents = EventIds.encode(Position.EMPTY, old.arrivedMillis() - 1);
        assertThat(refusal(resume(issuedBeforeItsEvents))).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT);
    }

    @Test
    void anOriginHeardAgainAfterRetiring_isBackInIds() {
        receive(ledger, A, 1);
        clock.advance(Duration.ofMinutes(6));
        ledger.expire();

        receive(ledger, A, 2);

        assertThat(ledger.position().get(A)).isEqualTo(2);
    }

    /**
     * The core promise: two replicas see the same events in different interleavings (each origin in its own
     * order); an id taken anywhere on one replica resumes on the other with exactly the events not yet
     * considered, each once, in the other's arrival order.
     */
    @Test
    void resumeOnAnotherReplica_replaysExactlyWhatTheIdHadNotConsidered() {
        Properties.forAll("cross-replica resume", 2_000, random -> {
            long[] origins = {A, B, 3};
            int[] counts = {random.nextInt(0, 15), random.nextInt(0, 15), random.nextInt(0, 15)};
            Ledger first = ledger(1_000, Duration.ofMinutes(5));
            Ledger second = ledger(1_000, Duration.ofMinutes(5));
            List<long[]> firstOrder = interleave(origins, counts, random);
            List<long[]> secondOrder = interleave(origins, counts, random);
            List<Ledger.Entry> firstEntries = new ArrayList<>();
            for (long[] event : firstOrder) {
                firstEntries.add(receiveAudience(first, event, random));
            }
            for (long[] event : secondOrder) {
                receiveAudience(second, event, random);
            }
            if (firstEntries.isEmpty()) {
                return;
            }
            Ledger.Entry mark = firstEntries.get(random.nextInt(firstEntries.size()));

            Ledger.Plan plan = second.resume(mark.id(), ALICE::sees, 1_000);

            Set<String> expected = new HashSet<>();
            for (Ledger.Entry entry : firstEntries) {
                if (entry.seq() > mark.position().get(entry.origin()) && ALICE.sees(entry.audience())) {
                    expected.add(entry.event().text());
                }
            }
            List<String> got = replayed(plan);
            assertThat(got).doesNotHaveDuplicates();
            assertThat(new HashSet<>(got)).isEqualTo(expected);
            List<String> inSecondOrder = secondOrder.stream()
                    .map(e -> e[0] + ":" + e[1])
                    .filter(expected::contains)
                    .toList();
            assertThat(got).isEqualTo(inSecondOrder);
        });
    }

    /** Events 1..counts[i] of each origin, interleaved at random, each origin in sequence order. */
    private static List<long[]> interleave(long[] origins, int[] counts, Random random) {
        int[] next = new int[origins.length];
        List<long[]> order = new ArrayList<>();
        int remaining = counts[0] + counts[1] + counts[2];
        while (remaining > 0) {
            int i = random.nextInt(origins.length);
            if (next[i] < counts[i]) {
                order.add(new long[] {origins[i], ++next[i]});
                remaining--;
            }
        }
        return order;
    }

    private static Ledger.Entry receiveAudience(Ledger ledger, long[] event, Random unused) {
        // The audience is a function of the event, so both replicas agree on it.
        long origin = event[0];
        long seq = event[1];
        Audience audience = switch ((int) ((origin * 7 + seq) % 4)) {
            case 0 -> Audience.EVERYONE;
            case 1 -> Audience.user("", "alice");
            case 2 -> Audience.user("", "bob");
            default -> Audience.group("", seq % 2 == 0 ? "acme" : "globex");
        };
        Ledger.Received received = ledger.received(origin, RA, seq, audience, event(origin + ":" + seq));
        assertThat(received.entry()).isNotNull();
        return received.entry();
    }
}
