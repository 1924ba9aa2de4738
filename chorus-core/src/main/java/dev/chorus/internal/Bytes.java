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
}
