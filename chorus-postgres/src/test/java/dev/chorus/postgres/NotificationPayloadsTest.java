package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.Secret;
import dev.chorus.postgres.NotificationPayloads.Piece;
import dev.chorus.postgres.NotificationPayloads.Unpacked;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class NotificationPayloadsTest {

    @Test
    void pack_thenUnpack_keepsEveryEnvelopeInOrderWithinTheNotifyLimit() {
        Random random = new Random();
        for (int run = 0; run < 300; run++) {
            List<Piece> pieces = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            SpillReferences references = new SpillReferences(
                    "ch", random.nextBoolean() ? null : new Secret("chorus-test-secret-0123456789"));
            int count = 1 + random.nextInt(60);
            for (int i = 0; i < count; i++) {
                if (random.nextInt(10) == 0) {
                    long id = random.nextLong(1, Long.MAX_VALUE);
                    UUID origin = random.nextBoolean() ? null : UUID.randomUUID();
                    pieces.add(new Piece.Spilled(references.reference(id, origin)));
                    expected.add("s" + id + "/" + origin);
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
                    case Unpacked.SpillReference spill -> {
                        assertThat(references.authentic(spill)).isTrue();
                        actual.add("s" + spill.id() + "/" + spill.origin());
                    }
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

    @Test
    void spillReference_isBoundToItsChannelIdAndOrigin() {
        Secret secret = new Secret("chorus-test-secret-0123456789");
        SpillReferences mine = new SpillReferences("orders", secret);
        UUID origin = UUID.randomUUID();
        String reference = mine.reference(42, origin);

        assertThat(mine.authentic(spill(reference))).isTrue();
        assertThat(new SpillReferences("billing", secret).authentic(spill(reference)))
                .isFalse();
        assertThat(new SpillReferences("orders", new Secret("another-secret-0123456789")).authentic(spill(reference)))
                .isFalse();
        assertThat(mine.authentic(spill(reference.replace("s42.", "s43.")))).isFalse();
        assertThat(mine.authentic(spill(mine.reference(42, UUID.randomUUID()).replaceFirst("\\.[^.]*$", "")
                        + reference.substring(reference.lastIndexOf('.')))))
                .isFalse();
        assertThat(mine.authentic(spill("s42"))).isFalse();
        assertThat(new SpillReferences("orders", null).authentic(spill("s42"))).isTrue();
        assertThat(spill(reference).origin()).isEqualTo(origin);
    }

    @Test
    void unpack_malformedSpillReferences_areForeign() {
        for (String payload : List.of("s", "sx", "s1.abc", "s1.a.b.c", "s1." + "g".repeat(32), "s" + "9".repeat(120))) {
            assertThat(NotificationPayloads.unpack(payload)).as(payload).isInstanceOf(Unpacked.Foreign.class);
        }
    }

    private static Unpacked.SpillReference spill(String payload) {
        return (Unpacked.SpillReference) NotificationPayloads.unpack(payload);
    }
}
