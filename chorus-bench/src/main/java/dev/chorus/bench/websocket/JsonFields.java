package dev.chorus.bench.websocket;

import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Reads single fields out of the server's compact JSON frames without parsing them: at 18,000 sockets and
 * 10 events/s the client's one thread handles 180,000 frames a second, and a full JSON parse of each would
 * measure the client rather than the server. It finds the first {@code "key":} in the frame, so it is meant
 * for keys that occur once ({@code type}, {@code id}) or only inside {@code data} ({@code t}).
 */
final class JsonFields {

    private JsonFields() {}

    /** The bytes {@code "key":} to search for. */
    static byte[] key(String name) {
        return ("\"" + name + "\":").getBytes(StandardCharsets.UTF_8);
    }

    /** Whether the string value of {@code key} is {@code expected}, compared byte by byte. */
    static boolean stringEquals(byte[] data, int offset, int length, byte[] key, byte[] expected) {
        int at = valueStart(data, offset, length, key);
        int end = offset + length;
        if (at < 0 || at >= end || data[at] != '"') {
            return false;
        }
        at++;
        if (at + expected.length >= end || data[at + expected.length] != '"') {
            return false;
        }
        for (int i = 0; i < expected.length; i++) {
            if (data[at + i] != expected[i]) {
                return false;
            }
        }
        return true;
    }

    /** The string value of {@code key}, escapes left as they are (ids have none), or null when absent. */
    static @Nullable String string(byte[] data, int offset, int length, byte[] key) {
        int at = valueStart(data, offset, length, key);
        int end = offset + length;
        if (at < 0 || at >= end || data[at] != '"') {
            return null;
        }
        int from = at + 1;
        for (int i = from; i < end; i++) {
            if (data[i] == '\\') {
                i++;
            } else if (data[i] == '"') {
                return new String(data, from, i - from, StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    /** The integer value of {@code key}, or {@code absent} when it is missing or not an integer. */
    static long number(byte[] data, int offset, int length, byte[] key, long absent) {
        int at = valueStart(data, offset, length, key);
        int end = offset + length;
        if (at < 0 || at >= end) {
            return absent;
        }
        boolean negative = data[at] == '-';
        if (negative) {
            at++;
        }
        long value = 0;
        int digits = 0;
        while (at < end && data[at] >= '0' && data[at] <= '9' && digits < 18) {
            value = value * 10 + (data[at] - '0');
            at++;
            digits++;
        }
        return digits == 0 ? absent : negative ? -value : value;
    }

    /** Index of the first byte of the value after {@code key} (spaces skipped), or -1. */
    private static int valueStart(byte[] data, int offset, int length, byte[] key) {
        int end = offset + length;
        outer:
        for (int i = offset; i <= end - key.length; i++) {
            for (int j = 0; j < key.length; j++) {
                if (data[i + j] != key[j]) {
                    continue outer;
                }
            }
            int at = i + key.length;
            while (at < end && data[at] == ' ') {
                at++;
            }
            return at;
        }
        return -1;
    }
}
