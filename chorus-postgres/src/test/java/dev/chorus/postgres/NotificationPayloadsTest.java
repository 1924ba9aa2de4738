package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.postgres.NotificationPayloads.Piece;
import dev.chorus.postgres.NotificationPayloads.Unpacked;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NotificationPayloadsTest {

    @Test
    void pack_thenUnpack_keepsEveryEnvelopeInOrderWithinTheNotifyLimit() {
        Random random = new Random();
        for (int run = 0; run < 300; run++) {
            List<Piece> pieces = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            int count = 1 + random.nextInt(60);
            for (int i = 0; i < count; i++) {
                if (random.nextInt(10) == 0) {
                    long id = random.nextLong(1, Long.MAX_VALUE);
                    pieces.add(new Piece.Spilled(id));
                    expected.add("s" + id);
                } else {
                    byte[] envelope = new byte[random.nextInt(NotificationPayloads.MAX_INLINE_ENVELOPE_BYTES + 1)];
                    random.nextBytes(envelope);
                    pieces.add(new Piece.Inline(envelope));
                    expected.add(HexFormat.of().formatHex(envelope));
                }
            }

            List<String> payloads = NotificationPayloads.pack(pieces);

            List<String> actual = new ArrayList<>();
            for (String payload : payloads) {
                assertThat(payload.length()).isLessThanOrEqualTo(NotificationPayloads.MAX_PAYLOAD_CHARS);
                switch (NotificationPayloads.unpack(payload)) {
                    case Unpacked.Envelopes envelopes ->
                        envelopes
                                .envelopes()
                                .forEach(e -> actual.add(HexFormat.of().formatHex(e)));
                    case Unpacked.SpillReference spill -> actual.add("s" + spill.id());
                    case Unpacked.Foreign foreign -> throw new AssertionError(foreign.why());
                }
            }
            assertThat(actual).isEqualTo(expected);
        }
    }

    @Test
    void pack_manySmallEnvelopes_sharesNotifications() {
        List<Piece> pieces = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            pieces.add(new Piece.Inline(new byte[100]));
        }

        assertThat(NotificationPayloads.pack(pieces)).hasSizeLessThanOrEqualTo(3);
    }

    @Test
    void needsSpill_onlyAboveWhatFitsOneNotification() {
        assertThat(NotificationPayloads.needsSpill(new byte[NotificationPayloads.MAX_INLINE_ENVELOPE_BYTES]))
                .isFalse();
        assertThat(NotificationPayloads.needsSpill(new byte[NotificationPayloads.MAX_INLINE_ENVELOPE_BYTES + 1]))
                .isTrue();
    }

    @Test
    void unpack_someoneElsesPayloads_areForeign() {
        assertThat(NotificationPayloads.unpack("")).isInstanceOf(Unpacked.Foreign.class);
        assertThat(NotificationPayloads.unpack("hello")).isInstanceOf(Unpacked.Foreign.class);
        assertThat(NotificationPayloads.unpack("{\"id\":1}")).isInstanceOf(Unpacked.Foreign.class);
        assertThat(NotificationPayloads.unpack("e!!")).isInstanceOf(Unpacked.Foreign.class);
        assertThat(NotificationPayloads.unpack("s12x")).isInstanceOf(Unpacked.Foreign.class);
        assertThat(NotificationPayloads.unpack("s")).isInstanceOf(Unpacked.Foreign.class);
    }
}
