package dev.chorus.events;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.zip.CRC32;

/*
 * The event id a client holds is a position plus the time it was issued, as base64url without padding:
 *
 *   version (1 byte, 1) | issued millis (varlong) | n (varint, <= MAX_ORIGINS)
 *   | n x ( origin (8 bytes, strictly ascending) | seq (varlong) ) | CRC-32 of all before (4 bytes)
 *
 * Three replicas make ids of about 50 characters. The CRC catches truncation and typing errors, not
 * forgery: an altered id can only make a client receive less, or replays of its own streams again, because
 * replays apply the same identity filter as live delivery.
 */

/** Encodes and validates the resume ids handed to clients. */
final class EventIds {

    static final int VERSION = 1;
    static final int MAX_ORIGINS = 1024;
    static final int MAX_LENGTH = 16 * 1024;

    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private EventIds() {}

    /** A decoded id. */
    record Cursor(Position position, long issuedMillis) {}

    /** Why an id was refused; the message names what is wrong. */
    static final class InvalidIdException extends Exception {
        InvalidIdException(String message) {
            super(message, null, false, false);
        }
    }

    static String encode(Position position, long issuedMillis) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 + position.size() * 14);
        out.write(VERSION);
        writeVarLong(out, issuedMillis);
        writeVarLong(out, position.size());
        for (int i = 0; i < position.size(); i++) {
            long origin = position.origin(i);
            for (int shift = 56; shift >= 0; shift -= 8) {
                out.write((int) (origin >>> shift));
            }
            writeVarLong(out, position.seq(i));
        }
        CRC32 crc = new CRC32();
        byte[] body = out.toByteArray();
        crc.update(body);
        ByteBuffer all = ByteBuffer.allocate(body.length + 4).put(body).putInt((int) crc.getValue());
        return ENCODER.encodeToString(all.array());
    }

    static Cursor decode(String id) throws InvalidIdException {
        if (id.isEmpty()) {
            throw new InvalidIdException("the event id is empty");
        }
        if (id.length() > MAX_LENGTH) {
            throw new InvalidIdException(
                    "the event id is " + id.length() + " characters; ids are at most " + MAX_LENGTH);
        }
        byte[] bytes;
        try {
            bytes = DECODER.decode(id);
        } catch (IllegalArgumentException e) {
            throw new InvalidIdException("the event id is not base64url: " + e.getMessage());
        }
        if (bytes.length < 7) {
            throw new InvalidIdException("the event id is too short (" + bytes.length + " bytes)");
        }
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - 4);
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        if ((int) crc.getValue() != buffer.getInt(bytes.length - 4)) {
            throw new InvalidIdException("the event id's checksum does not match: it was truncated or altered");
        }
        ByteBuffer body = buffer.limit(bytes.length - 4);
        int version = body.get() & 0xff;
        if (version != VERSION) {
            throw new InvalidIdException("the event id has version " + version + "; this replica reads " + VERSION);
        }
        long issued = readVarLong(body);
        long n = readVarLong(body);
        if (n > MAX_ORIGINS) {
            throw new InvalidIdException("the event id names " + n + " origins; at most " + MAX_ORIGINS);
        }
        long[] origins = new long[(int) n];
        long[] seqs = new long[(int) n];
        for (int i = 0; i < n; i++) {
            if (body.remaining() < 8) {
                throw new InvalidIdException("the event id ends inside origin " + (i + 1) + " of " + n);
            }
            origins[i] = body.getLong();
            if (i > 0 && origins[i] <= origins[i - 1]) {
                throw new InvalidIdException("the event id's origins are not in ascending order");
            }
            seqs[i] = readVarLong(body);
        }
        if (body.hasRemaining()) {
            throw new InvalidIdException("the event id has " + body.remaining() + " bytes after its last origin");
        }
        return new Cursor(Position.of(origins, seqs), issued);
    }

    private static void writeVarLong(ByteArrayOutputStream out, long value) {
        long v = value;
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static long readVarLong(ByteBuffer in) throws InvalidIdException {
        long value = 0;
        for (int shift = 0; shift < 63; shift += 7) {
            if (!in.hasRemaining()) {
                throw new InvalidIdException("the event id ends inside a number");
            }
            byte b = in.get();
            value |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                if (value < 0) {
                    break;
                }
                return value;
            }
        }
        throw new InvalidIdException("the event id holds a number out of range");
    }
}
