package dev.chorus.cache;

import dev.chorus.internal.Bytes;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/*
 * The payload of a cache's backplane messages on chorus.cache.<name> (the backplane adds origin replica,
 * epoch and its own per-topic sequence around it):
 *
 *   op (1) | key count (4) | per key: length (2) | UTF-8 key
 *
 * Ops are ASCII letters, so an unknown one can be named in a log line:
 *   'I' invalidate (applied by the sender when made, so the sender skips its own),
 *   'T' invalidate, relayed after the caller's transaction committed (the sender applies it too),
 *   'A' invalidate everything (no keys),
 *   'H' heartbeat (no keys): proves, arriving in sequence, that everything its origin sent before arrived,
 *   'L' leave (no keys): the sender's cache closed, so stop expecting its heartbeats.
 *
 * Keys are at most MAX_KEY_CHARS characters, so their UTF-8 length always fits the two-byte length.
 */

/** Encodes and decodes the messages replicated caches send each other. */
final class CacheWire {

    static final byte INVALIDATE = 'I';
    static final byte INVALIDATE_COMMITTED = 'T';
    static final byte INVALIDATE_ALL = 'A';
    static final byte HEARTBEAT = 'H';
    static final byte LEAVE = 'L';

    /** The longest encoded key, in characters. */
    static final int MAX_KEY_CHARS = 1024;

    /** A decoded message: its op and its keys (empty for the ops that carry none). */
    record Decoded(byte op, List<String> keys) {}

    private CacheWire() {}

    static byte[] encode(byte op, List<String> keys) {
        return Bytes.write(out -> {
            out.writeByte(op);
            out.writeInt(keys.size());
            for (String key : keys) {
                byte[] utf8 = key.getBytes(StandardCharsets.UTF_8);
                out.writeShort(utf8.length);
                out.write(utf8);
            }
        });
    }

    /** Reads a payload; an op this version does not know is returned as is, for the caller to judge. */
    static Decoded decode(byte[] payload) throws IOException {
        List<String> keys = new ArrayList<>();
        byte op;
        try (DataInputStream in = Bytes.read(payload)) {
            op = in.readByte();
            int count = Bytes.readCount(in, 2);
            for (int i = 0; i < count; i++) {
                int length = in.readUnsignedShort();
                byte[] utf8 = in.readNBytes(length);
                if (utf8.length != length) {
                    throw new EOFException("a key of " + length + " bytes past the end of the message");
                }
                keys.add(new String(utf8, StandardCharsets.UTF_8));
            }
        }
        return new Decoded(op, keys);
    }
}
