package dev.chorus.bench.websocket;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The client's frame codec against RFC 6455: generated frames of every length class, masked and not, read
 * back whole and refused while incomplete. Seeded: a failure prints the seed, {@code -Dchorus.seed=N}
 * replays it.
 */
class FramesTest {

    @Test
    void clientFrame_anyPayload_readsBackMaskedWithTheSameOpcodeAndPayload() {
        forAll(200, random -> {
            byte[] payload = payload(random);
            int opcode = random.nextBoolean() ? Frames.TEXT : Frames.PONG;
            int mask = random.nextInt();
            byte[] frame = bytes(Frames.clientFrame(opcode, payload, mask));

            Frames.Header header = Frames.header(frame, 0, frame.length);

            assertThat(header).isNotNull();
            assertThat(header.fin()).isTrue();
            assertThat(header.opcode()).isEqualTo(opcode);
            assertThat(header.masked()).isTrue();
            assertThat(header.mask()).isEqualTo(mask);
            assertThat(header.payloadLength()).isEqualTo(payload.length);
            assertThat(header.length() + payload.length).isEqualTo(frame.length);
            Frames.unmask(frame, header.length(), payload.length, header.mask());
            assertThat(Arrays.copyOfRange(frame, header.length(), frame.length)).isEqualTo(payload);
        });
    }

    @Test
    void header_serverFrameCutAnywhereInItsHeader_isIncompleteUntilTheLastHeaderByte() {
        forAll(200, random -> {
            byte[] payload = payload(random);
            byte[] frame = serverFrame(Frames.TEXT, payload);
            Frames.Header whole = Frames.header(frame, 0, frame.length);
            assertThat(whole).isNotNull();
            assertThat(whole.masked()).isFalse();
            assertThat(whole.payloadLength()).isEqualTo(payload.length);

            int cut = random.nextInt(whole.length());
            assertThat(Frames.header(frame, 0, cut)).as("header cut at %d", cut).isNull();
        });
    }

    @Test
    void acceptFor_rfcExample_isTheRfcAnswer() {
        assertThat(Frames.acceptFor("dGhlIHNhbXBsZSBub25jZQ==")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    @Test
    void closeCode_payloadWithCodeAndReason_isTheCode() {
        byte[] payload = Frames.closePayload(1013, "try again");
        assertThat(Frames.closeCode(payload, 0, payload.length)).isEqualTo(1013);
        assertThat(Frames.closeCode(new byte[0], 0, 0)).isEqualTo(Frames.NO_STATUS);
    }

    /** An unmasked frame as a server writes it. */
    private static byte[] serverFrame(int opcode, byte[] payload) {
        int extended = payload.length < 126 ? 0 : payload.length <= 0xFFFF ? 2 : 8;
        ByteBuffer frame = ByteBuffer.allocate(2 + extended + payload.length);
        frame.put((byte) (0x80 | opcode));
        if (extended == 0) {
            frame.put((byte) payload.length);
        } else if (extended == 2) {
            frame.put((byte) 126).putShort((short) payload.length);
        } else {
            frame.put((byte) 127).putLong(payload.length);
        }
        return frame.put(payload).array();
    }

    /** Payload lengths around each boundary of the length encoding: 125/126, 65,535/65,536. */
    private static byte[] payload(Random random) {
        int[] around = {0, 125, 126, 0xFFFF, 0x10000};
        int length = Math.max(0, around[random.nextInt(around.length)] + random.nextInt(5) - 2);
        byte[] payload = new byte[length];
        random.nextBytes(payload);
        return payload;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return bytes;
    }

    private static void forAll(int tries, Consumer<Random> check) {
        String fixed = System.getProperty("chorus.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : new Random().nextLong();
        Random seeds = new Random(seed);
        for (int i = 0; i < tries; i++) {
            try {
                check.accept(new Random(seeds.nextLong()));
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(
                        "try " + (i + 1) + " of " + tries + " failed; replay with -Dchorus.seed=" + seed + ": "
                                + e.getMessage(),
                        e);
            }
        }
    }
}
