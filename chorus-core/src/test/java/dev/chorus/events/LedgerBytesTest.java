package dev.chorus.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.ReplicaId;
import dev.chorus.testing.MutableClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Issue 20: the history is bounded in bytes; a resume from before what it dropped gets a reload. */
class LedgerBytesTest {

    private static final long SELF = 0x5e1fL;
    private static final int KIB = 1024;

    private final MutableClock clock = new MutableClock();

    @Test
    void historyPastItsBytes_dropsTheOldest_andAResumeFromBeforeThemIsRefused() {
        Ledger ledger = new Ledger(
                SELF,
                ReplicaId.random("self"),
                10_000,
                8 * KIB,
                Duration.ofMinutes(5).toMillis(),
                clock);
        String before = EventIds.encode(ledger.position(), clock.millis());
        String afterTwelfth = "";
        for (int i = 1; i <= 20; i++) {
            long seq = ledger.nextOwnSeq();
            Ledger.Entry entry = ledger.own(seq, Audience.EVERYONE, new Event("t", new byte[KIB]));
            if (i == 12) {
                afterTwelfth = entry.id();
            }
        }

        assertThat(ledger.size()).isEqualTo(8);
        assertThat(ledger.bytes()).isEqualTo(8 * KIB);
        assertThat(ledger.evictedEarly()).isEqualTo(12);
        assertThat(ledger.resume(before, a -> true, 100))
                .isInstanceOfSatisfying(
                        Ledger.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reload.Reason.HISTORY_TOO_SHORT));
        assertThat(ledger.resume(afterTwelfth, a -> true, 100))
                .isInstanceOfSatisfying(
                        Ledger.Replay.class, r -> assertThat(r.entries()).hasSize(8));
    }

    @Test
    void anEventLargerThanTheWholeBound_isNotKept_soNoResumeCanNeedIt() {
        Ledger ledger = new Ledger(
                SELF,
                ReplicaId.random("self"),
                10_000,
                4 * KIB,
                Duration.ofMinutes(5).toMillis(),
                clock);
        String before = EventIds.encode(ledger.position(), clock.millis());

        ledger.own(ledger.nextOwnSeq(), Audience.EVERYONE, new Event("t", new byte[16 * KIB]));

        assertThat(ledger.size()).isZero();
        assertThat(ledger.bytes()).isZero();
        assertThat(ledger.resume(before, a -> true, 100)).isInstanceOf(Ledger.Refused.class);
    }
}
