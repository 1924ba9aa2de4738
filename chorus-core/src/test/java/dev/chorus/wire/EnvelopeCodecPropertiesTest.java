package dev.chorus.wire;

import static dev.chorus.testing.Properties.forAll;
import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.Secret;
import dev.chorus.testing.Generators;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The codec's contract over arbitrary input: round trips are exact and no byte sequence makes it throw. */
class EnvelopeCodecPropertiesTest {

    private static final int TRIES = 10_000;
    private static final Secret SECRET = new Secret("property-test-secret-0123456789");
    private static final EnvelopeCodec PLAIN = EnvelopeCodec.forCluster("prop");
    private static final EnvelopeCodec SIGNED =
            EnvelopeCodec.builder("prop").secret(SECRET).build();

    @Test
    void anyEnvelope_roundTripsExactly() {
        forAll("round trip", TRIES, random -> {
            Envelope envelope = Generators.envelope(random, "prop");
            for (EnvelopeCodec codec : new EnvelopeCodec[] {PLAIN, SIGNED}) {
                byte[] bytes = codec.encode(envelope);
                assertThat(bytes).hasSize(codec.encodedSize(envelope));
                assertThat(codec.decode(bytes)).isEqualTo(new DecodeResult.Decoded(envelope));
            }
        });
    }

    @Test
    void randomBytes_neverThrowAndAreNeverAccepted() {
        forAll("random bytes", TRIES, random -> {
            byte[] bytes = Generators.bytes(random, 600);
            assertThat(PLAIN.decode(bytes).isDecoded()).isFalse();
            assertThat(SIGNED.decode(bytes).isDecoded()).isFalse();
        });
    }

    @Test
    void randomBytesBehindAValidPrefix_neverThrow() {
        // Random bytes behind a valid magic, version, flags and cluster reach deep into the parser.
        byte[] valid = PLAIN.encode(EnvelopeFixtures.sample("prop", new byte[8]));
        forAll("random tail", TRIES, random -> {
            int prefix = random.nextInt(Math.min(64, valid.length) + 1);
            byte[] tail = Generators.bytes(random, 300);
            byte[] bytes = Arrays.copyOf(valid, prefix + tail.length);
            System.arraycopy(tail, 0, bytes, prefix, tail.length);
            DecodeResult result = PLAIN.decode(bytes);
            assertThat(result).isNotNull();
        });
    }

    @Test
    void mutatedValidEnvelope_neverThrows() {
        forAll("mutation", TRIES, random -> {
            byte[] bytes = PLAIN.encode(Generators.envelope(random, "prop"));
            byte[] mutated = Arrays.copyOf(bytes, Math.max(0, bytes.length + random.nextInt(17) - 8));
            int edits = 1 + random.nextInt(3);
            for (int i = 0; i < edits && mutated.length > 0; i++) {
                mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
            }
            DecodeResult result = PLAIN.decode(mutated);
            if (result instanceof DecodeResult.Decoded decoded) {
                // A mutation may land in a payload or header byte and still parse: then it must re-encode to
                // exactly the mutated bytes, never to something the parser misread.
                assertThat(PLAIN.encode(decoded.envelope())).isEqualTo(mutated);
            }
        });
    }

    @Test
    void mutatedSignedEnvelope_isNeverAccepted() {
        forAll("signed mutation", TRIES, random -> {
            byte[] bytes = SIGNED.encode(Generators.envelope(random, "prop"));
            bytes[random.nextInt(bytes.length)] ^= (byte) (1 + random.nextInt(255));
            assertThat(SIGNED.decode(bytes).isDecoded()).isFalse();
        });
    }
}
