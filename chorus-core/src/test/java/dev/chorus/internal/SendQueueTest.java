package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.ChorusConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Issue 20: a transport's send queue refuses what passes its byte bound, and says which setting to raise. */
class SendQueueTest {

    private final SendQueue<byte[]> queue = new SendQueue<>(1_000, 3_000, b -> b.length);

    @Test
    void anOfferPastTheByteBound_isRefused_andTheRefusalNamesTheBoundAndItsSetting() {
        assertThat(queue.offer(new byte[1_000])).isTrue();
        assertThat(queue.offer(new byte[1_000])).isTrue();
        assertThat(queue.offer(new byte[1_000])).isTrue();

        assertThat(queue.offer(new byte[1])).isFalse();
        assertThat(queue.bytes()).isEqualTo(3_000);
        assertThat(queue.size()).isEqualTo(3);
        assertThat(queue.refusal(1))
                .contains("3000 bytes")
                .contains("bound of 3000 bytes")
                .contains(ChorusConfig.SEND_QUEUE_BYTES);
    }

    @Test
    void takingFreesTheBytes_byEveryWayOfTaking() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            queue.offer(new byte[1_000]);
        }
        assertThat(queue.poll()).hasSize(1_000);
        assertThat(queue.poll(1, TimeUnit.SECONDS)).hasSize(1_000);
        assertThat(queue.bytes()).isEqualTo(1_000);
        queue.offer(new byte[2_000]);
        List<byte[]> drained = new ArrayList<>();
        assertThat(queue.drainTo(drained, 1)).isEqualTo(1);
        assertThat(queue.bytes()).isEqualTo(2_000);
        queue.drainTo(drained);
        assertThat(queue.bytes()).isZero();
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.offer(new byte[3_000])).isTrue();
    }

    @Test
    void anEmptyQueueTakesOneItemLargerThanTheBound_butNothingAfterIt() {
        assertThat(queue.offer(new byte[5_000])).isTrue();
        assertThat(queue.offer(new byte[1])).isFalse();
        // Zero-byte items (wake-ups) are bounded by count only.
        assertThat(queue.offer(new byte[0])).isTrue();
    }

    @Test
    void theCountBoundStillHolds() {
        SendQueue<byte[]> two = new SendQueue<>(2, 1 << 20, b -> b.length);
        assertThat(two.offer(new byte[1])).isTrue();
        assertThat(two.offer(new byte[1])).isTrue();
        assertThat(two.offer(new byte[1])).isFalse();
        assertThat(two.refusal(1)).contains("bound of 2 envelopes");
        assertThat(two.bytes()).isEqualTo(2);
    }
}
