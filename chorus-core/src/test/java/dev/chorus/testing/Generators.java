package dev.chorus.testing;

import dev.chorus.ReplicaId;
import dev.chorus.wire.Envelope;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/** Random inputs for property tests, biased towards edge cases (empty, maximal, non-ASCII). */
public final class Generators {

    private static final String ALPHABET = "abcXYZ019._-:@ é中𝄞\u0000\n";

    private Generators() {}

    /** Bytes of a length up to {@code max}, sometimes empty, sometimes exactly {@code max}. */
    public static byte[] bytes(Random random, int max) {
        int length = switch (random.nextInt(10)) {
            case 0 -> 0;
            case 1 -> max;
            default -> random.nextInt(max + 1);
        };
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    /** A string of up to {@code maxChars} characters mixing ASCII, accents, CJK, an emoji and control codes. */
    public static String text(Random random, int minChars, int maxChars) {
        int length = minChars + random.nextInt(maxChars - minChars + 1);
        StringBuilder text = new StringBuilder();
        while (text.length() < length) {
            int at = random.nextInt(ALPHABET.length());
            int cp = ALPHABET.codePointAt(at);
            if (Character.isLowSurrogate(ALPHABET.charAt(at))) {
                continue;
            }
            if (text.length() + Character.charCount(cp) > length) {
                text.append('x');
            } else {
                text.appendCodePoint(cp);
            }
        }
        return text.toString();
    }

    /** A long, often an edge value. */
    public static long anyLong(Random random) {
        return switch (random.nextInt(8)) {
            case 0 -> 0;
            case 1 -> Long.MAX_VALUE;
            case 2 -> Long.MIN_VALUE;
            case 3 -> -1;
            default -> random.nextLong();
        };
    }

    /** An arbitrary valid envelope of {@code cluster}. */
    public static Envelope envelope(Random random, String cluster) {
        Envelope.Kind kind = Envelope.Kind.values()[random.nextInt(Envelope.Kind.values().length)];
        @Nullable String name = random.nextBoolean() ? null : "r" + random.nextInt(1000) + "-x.y";
        ReplicaId origin = ReplicaId.of(new UUID(random.nextLong(), random.nextLong()), name);
        long micros = random.nextLong(-4_000_000_000_000_000L, 4_000_000_000_000_000L);
        Instant timestamp =
                Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000);
        String topic = text(random, 1, 60);
        Map<String, String> headers = new HashMap<>();
        int count = random.nextInt(6);
        for (int i = 0; i < count; i++) {
            headers.put(text(random, 0, 15), text(random, 0, 40));
        }
        return Envelope.of(
                kind, cluster, origin, anyLong(random), anyLong(random), timestamp, topic, headers, bytes(random, 300));
    }

    /** Whether {@code text} survives a UTF-8 round trip. */
    public static boolean isUtf8Safe(String text) {
        return new String(text.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8).equals(text);
    }
}
