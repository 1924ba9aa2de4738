package dev.chorus.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FramesTest {

    @Test
    void packThenUnpack_keepsEveryEnvelopeInOrder() {
        Random random = new Random();
        for (int run = 0; run < 1_000; run++) {
            List<byte[]> envelopes = new ArrayList<>();
            int count = 1 + random.nextInt(20);
            for (int i = 0; i < count; i++) {
                byte[] envelope = new byte[random.nextInt(300)];
                random.nextBytes(envelope);
                envelopes.add(envelope);
            }
            List<String> seen = new ArrayList<>();
            List<String> problems = new ArrayList<>();

            Frames.unpack(Frames.pack(envelopes), visitor(seen, problems));

            assertThat(problems).isEmpty();
            assertThat(seen)
                    .containsExactlyElementsOf(
                            envelopes.stream().map(HexFormat.of()::formatHex).toList());
        }
    }

    @Test
    void unpack_aFrameInsideALargerBuffer_readsOnlyItsOwnBytes() {
        byte[] frame = Frames.pack(List.of(new byte[] {1, 2}, new byte[] {3}));
        byte[] buffer = new byte[frame.length + 7];
        Arrays.fill(buffer, (byte) 'C');
        System.arraycopy(frame, 0, buffer, 3, frame.length);
        List<String> seen = new ArrayList<>();
        List<String> problems = new ArrayList<>();

        Frames.unpack(buffer, 3, frame.length, visitor(seen, problems));

        assertThat(problems).isEmpty();
        assertThat(seen).containsExactly("0102", "03");
    }

    @Test
    void unpack_anyTruncationOrGarbage_isReportedNeverThrown() {
        byte[] frame = Frames.pack(List.of(new byte[] {1, 2, 3}, new byte[] {4, 5}));
        for (int length = 0; length < frame.length; length++) {
            List<String> problems = new ArrayList<>();
            Frames.unpack(Arrays.copyOf(frame, length), visitor(new ArrayList<>(), problems));
            // 9 bytes is a whole frame of the first envelope alone: the only prefix that is not damaged.
            assertThat(problems).as("prefix of %d bytes", length).hasSize(length == 9 ? 0 : 1);
        }
        Random random = new Random();
        for (int i = 0; i < 10_000; i++) {
            byte[] garbage = new byte[random.nextInt(64)];
            random.nextBytes(garbage);
            if (random.nextBoolean() && garbage.length >= 2) {
                garbage[0] = 'C';
                garbage[1] = 'B';
            }
            Frames.unpack(garbage, visitor(new ArrayList<>(), new ArrayList<>()));
        }
    }

    private static Frames.Visitor visitor(List<String> seen, List<String> problems) {
        return new Frames.Visitor() {
            @Override
            public void envelope(byte[] frame, int offset, int length) {
                seen.add(HexFormat.of().formatHex(frame, offset, offset + length));
            }

            @Override
            public void malformed(String why) {
                problems.add(why);
            }
        };
    }
}
