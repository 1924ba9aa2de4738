package dev.chorus.internal;

import dev.chorus.ChorusException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** The small binary messages features send each other: written and read with Data streams. */
public final class Bytes {

    private Bytes() {}

    /** Writes a message's fields. */
    @FunctionalInterface
    public interface Writer {
        /** Writes the fields to {@code out}. */
        void write(DataOutputStream out) throws IOException;
    }

    /** The bytes {@code writer} writes; writing to memory cannot fail, so no checked exception escapes. */
    public static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writer.write(out);
        } catch (IOException e) {
            throw new ChorusException("Could not encode a message: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    /** A stream over {@code bytes} for reading a message's fields back. */
    public static DataInputStream read(byte[] bytes) {
        return new DataInputStream(new ByteArrayInputStream(bytes));
    }

    /**
     * Reads an {@code int} length and that many bytes from a stream made by {@link #read}. The length comes
     * from another replica: it is checked against the bytes that remain (so against the envelope limit that
     * bounded the message) before anything is allocated.
     *
     * @throws MalformedException when the length is negative or larger than what remains
     */
    public static byte[] readBlob(DataInputStream in) throws IOException {
        int length = in.readInt();
        int remaining = in.available(); // exact for the in-memory stream of read()
        if (length < 0 || length > remaining) {
            throw new MalformedException(
                    "a length of " + length + " bytes where " + remaining + " remain in the message");
        }
        return in.readNBytes(length);
    }

    /**
     * Reads an {@code int} count of items that each take at least {@code minItemBytes} bytes, refusing a count
     * the remaining bytes cannot hold, so that no collection is sized from an unchecked number.
     *
     * @throws MalformedException when the count is negative or cannot fit
     */
    public static int readCount(DataInputStream in, int minItemBytes) throws IOException {
        int count = in.readInt();
        int remaining = in.available();
        if (count < 0 || (long) count * minItemBytes > remaining) {
            throw new MalformedException("a count of " + count + " items where " + remaining + " bytes remain");
        }
        return count;
    }

    /** A message from another replica whose fields contradict its own size; never trusted further. */
    public static final class MalformedException extends IOException {
        /** A malformed message, with what was wrong. */
        public MalformedException(String message) {
            super(message);
        }
    }
}
