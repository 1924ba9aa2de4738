package dev.chorus.events;

import dev.chorus.ChorusException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One event for clients: a type (the SSE {@code event:} field, a WebSocket message kind) and opaque data.
 *
 * @param type what kind of event this is; 1 to {@value #MAX_TYPE_LENGTH} characters
 * @param data the bytes delivered to clients; copied on the way in and out
 */
public record Event(String type, byte[] data) {

    /** Longest accepted type. */
    public static final int MAX_TYPE_LENGTH = 255;

    /** Validates the type and copies the data. */
    public Event {
        Objects.requireNonNull(type, "type");
        if (type.isEmpty() || type.length() > MAX_TYPE_LENGTH) {
            throw new ChorusException("Event type must be 1 to " + MAX_TYPE_LENGTH + " characters, was " + type.length()
                    + " (for example 'order.updated')");
        }
        data = Objects.requireNonNull(data, "data").clone();
    }

    /** An event with a UTF-8 text payload. */
    public static Event of(String type, String text) {
        return new Event(type, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A copy of the data (records expose components; this keeps the event immutable). */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /**
     * A read-only view of the data, without copying it: for a sink that writes the same event to many
     * clients, where {@link #data()} would copy it once per client.
     */
    public ByteBuffer dataBuffer() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    /** The data decoded as UTF-8. */
    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }

    /** Size of the data in bytes, without copying it. */
    public int size() {
        return data.length;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Event that && type.equals(that.type) && Arrays.equals(data, that.data);
    }

    @Override
    public int hashCode() {
        return type.hashCode() * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Event{" + type + " " + data.length + "B}";
    }
}
