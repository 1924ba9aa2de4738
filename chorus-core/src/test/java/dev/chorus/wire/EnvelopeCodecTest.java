package dev.chorus.wire;

import static dev.chorus.wire.EnvelopeFixtures.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusException;
import dev.chorus.Secret;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EnvelopeCodecTest {

    private static final Secret SECRET = new Secret("correct horse battery staple");
    private static final Secret OTHER_SECRET = new Secret("another secret, 32 characters..");

    private final EnvelopeCodec plain = EnvelopeCodec.forCluster("orders");
    private final EnvelopeCodec signed =
            EnvelopeCodec.builder("orders").secret(SECRET).build();

    @Test
    void roundTrip_plain_returnsEqualEnvelope() {
        Envelope envelope = sample("orders", "hello".getBytes(StandardCharsets.UTF_8));

        byte[] bytes = plain.encode(envelope);

        assertThat(bytes).hasSize(plain.encodedSize(envelope));
        assertThat(decoded(plain.decode(bytes))).isEqualTo(envelope);
        assertThat(decoded(plain.decode(bytes)).timestamp()).isEqualTo(envelope.timestamp());
    }

    @Test
    void roundTrip_signed_returnsEqualEnvelope() {
        Envelope envelope = sample("orders", new byte[] {0, 1, 2, (byte) 0xFF});

        byte[] bytes = signed.encode(envelope);

        assertThat(bytes).hasSize(signed.encodedSize(envelope));
        assertThat(decoded(signed.decode(bytes))).isEqualTo(envelope);
    }

    @Test
    void decode_signedWithAnotherSecret_isBadSignature() {
        EnvelopeCodec other =
                EnvelopeCodec.builder("orders").secret(OTHER_SECRET).build();
        byte[] bytes = other.encode(sample("orders", new byte[10]));

        assertThat(rejection(signed.decode(bytes))).isEqualTo(Rejection.BAD_SIGNATURE);
    }

    @Test
    void decode_unsignedWhileSecretSet_isBadSignature() {
        byte[] bytes = plain.encode(sample("orders", new byte[10]));

        DecodeResult result = signed.decode(bytes);

        assertThat(rejection(result)).isEqualTo(Rejection.BAD_SIGNATURE);
        assertThat(((DecodeResult.Rejected) result).detail()).contains("unsigned");
    }

    @Test
    void decode_signedWithoutSecret_isBadSignature() {
        byte[] bytes = signed.encode(sample("orders", new byte[10]));

        assertThat(rejection(plain.decode(bytes))).isEqualTo(Rejection.BAD_SIGNATURE);
    }

    @Test
    void decode_anyFlippedBitOfSignedEnvelope_isRejected() {
        byte[] bytes = signed.encode(sample("orders", "payload".getBytes(StandardCharsets.UTF_8)));
        for (int i = 0; i < bytes.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] copy = bytes.clone();
                copy[i] ^= (byte) (1 << bit);
                assertThat(signed.decode(copy).isDecoded())
                        .as("byte %d bit %d", i, bit)
                        .isFalse();
            }
        }
    }

    @Test
    void decode_foreignCluster_isRejected() {
        byte[] bytes = EnvelopeCodec.forCluster("billing").encode(sample("billing", new byte[3]));

        DecodeResult result = plain.decode(bytes);

        assertThat(rejection(result)).isEqualTo(Rejection.FOREIGN_CLUSTER);
        assertThat(((DecodeResult.Rejected) result).detail())
                .contains("billing")
                .contains("orders");
    }

    @Test
    void decode_unknownVersion_isRejectedAsSuch() {
        byte[] bytes = plain.encode(sample("orders", new byte[3]));
        bytes[2] = 2;

        assertThat(rejection(plain.decode(bytes))).isEqualTo(Rejection.UNKNOWN_VERSION);
    }

    @Test
    void decode_everyProperPrefix_isTruncated() {
        byte[] bytes = plain.encode(sample("orders", new byte[20]));
        for (int length = 2; length < bytes.length; length++) {
            assertThat(rejection(plain.decode(Arrays.copyOf(bytes, length))))
                    .as("prefix of %d bytes", length)
                    .isEqualTo(Rejection.TRUNCATED);
        }
    }

    @Test
    void decode_trailingBytes_isMalformed() {
        byte[] bytes = plain.encode(sample("orders", new byte[3]));

        assertThat(rejection(plain.decode(Arrays.copyOf(bytes, bytes.length + 1))))
                .isEqualTo(Rejection.MALFORMED);
    }

    @Test
    void decode_someoneElsesText_isMalformed() {
        byte[] bytes = "{\"event\":\"user-updated\",\"id\":7}".getBytes(StandardCharsets.UTF_8);

        assertThat(rejection(plain.decode(bytes))).isEqualTo(Rejection.MALFORMED);
    }

    @Test
    void decode_overTheLimit_isTooLarge() {
        EnvelopeCodec small = EnvelopeCodec.builder("orders").maxBytes(1024).build();

        assertThat(rejection(small.decode(new byte[1025]))).isEqualTo(Rejection.TOO_LARGE);
    }

    @Test
    void decode_emptyAndTinyInputs_areRejectedWithoutThrowing() {
        assertThat(rejection(plain.decode(new byte[0]))).isEqualTo(Rejection.TRUNCATED);
        assertThat(rejection(plain.decode(new byte[] {'C'}))).isEqualTo(Rejection.TRUNCATED);
        assertThat(rejection(plain.decode(new byte[] {'C', 'E', 1}))).isEqualTo(Rejection.TRUNCATED);
        assertThat(rejection(plain.decode(new byte[5], 3, 4))).isEqualTo(Rejection.MALFORMED);
    }

    @Test
    void encode_overTheLimit_failsNamingTheLimitAndTheFix() {
        EnvelopeCodec small = EnvelopeCodec.builder("orders").maxBytes(1024).build();

        assertThatThrownBy(() -> small.encode(sample("orders", new byte[2000])))
                .isInstanceOf(EnvelopeTooLargeException.class)
                .hasMessageContaining("1024")
                .hasMessageContaining("CHORUS_MAX_ENVELOPE_BYTES");
    }

    @Test
    void encode_envelopeOfAnotherCluster_fails() {
        assertThatThrownBy(() -> plain.encode(sample("billing", new byte[1])))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("billing");
    }

    @Test
    void envelope_overlongTopicOrTooManyHeaders_areRefusedAtConstruction() {
        assertThatThrownBy(() -> Envelope.of(
                        Envelope.Kind.MESSAGE,
                        "orders",
                        EnvelopeFixtures.ORIGIN,
                        1,
                        1,
                        java.time.Instant.EPOCH,
                        "t".repeat(256),
                        java.util.Map.of(),
                        new byte[0]))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("topic");
        java.util.Map<String, String> headers = new java.util.HashMap<>();
        for (int i = 0; i < 33; i++) {
            headers.put("h" + i, "v");
        }
        assertThatThrownBy(() -> Envelope.of(
                        Envelope.Kind.MESSAGE,
                        "orders",
                        EnvelopeFixtures.ORIGIN,
                        1,
                        1,
                        java.time.Instant.EPOCH,
                        "t",
                        headers,
                        new byte[0]))
                .isInstanceOf(ChorusException.class)
                .hasMessageContaining("headers");
    }

    @Test
    void envelope_payloadIsCopiedInAndOut() {
        byte[] payload = {1, 2, 3};
        Envelope envelope = sample("orders", payload);
        payload[0] = 9;
        envelope.payload()[1] = 9;

        assertThat(envelope.payload()).containsExactly(1, 2, 3);
    }

    @Test
    void isSequencedMessageFrom_recognisesOwnEchoesOnly() {
        byte[] own = plain.encode(sample("orders", new byte[4]));
        byte[] signed = this.signed.encode(sample("orders", new byte[4]));

        assertThat(plain.isSequencedMessageFrom(own, 0, own.length, EnvelopeFixtures.ORIGIN.uuid()))
                .isTrue();
        assertThat(plain.isSequencedMessageFrom(signed, 0, signed.length, EnvelopeFixtures.ORIGIN.uuid()))
                .isTrue();
        assertThat(plain.isSequencedMessageFrom(own, 0, own.length, java.util.UUID.randomUUID()))
                .isFalse();
        assertThat(plain.isSequencedMessageFrom(own, 0, 10, EnvelopeFixtures.ORIGIN.uuid()))
                .isFalse();
        assertThat(plain.isSequencedMessageFrom(new byte[3], 0, 3, EnvelopeFixtures.ORIGIN.uuid()))
                .isFalse();
        Envelope unsequenced = Envelope.of(
                Envelope.Kind.MESSAGE,
                "orders",
                EnvelopeFixtures.ORIGIN,
                1,
                0,
                java.time.Instant.EPOCH,
                "t",
                java.util.Map.of(),
                new byte[0]);
        byte[] bytes = plain.encode(unsequenced);
        assertThat(plain.isSequencedMessageFrom(bytes, 0, bytes.length, EnvelopeFixtures.ORIGIN.uuid()))
                .isFalse();
    }

    @Test
    void decode_textWithAReplacementCharacter_roundTrips() {
        Envelope envelope = Envelope.of(
                Envelope.Kind.MESSAGE,
                "orders",
                EnvelopeFixtures.ORIGIN,
                1,
                1,
                java.time.Instant.EPOCH,
                "topic \uFFFD é",
                java.util.Map.of("h", "\uFFFD"),
                new byte[0]);

        assertThat(decoded(plain.decode(plain.encode(envelope)))).isEqualTo(envelope);
    }

    private static Envelope decoded(DecodeResult result) {
        assertThat(result).isInstanceOf(DecodeResult.Decoded.class);
        return ((DecodeResult.Decoded) result).envelope();
    }

    private static Rejection rejection(DecodeResult result) {
        assertThat(result).isInstanceOf(DecodeResult.Rejected.class);
        return ((DecodeResult.Rejected) result).reason();
    }
}
