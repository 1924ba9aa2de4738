package dev.chorus.backplane;

import dev.chorus.ChorusException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a caller publishes: a topic, small headers and payload bytes. The backplane adds origin, epoch,
 * sequence and timestamp when it sends it, turning it into an {@link dev.chorus.wire.Envelope}.
 *
 * @param topic the topic subscribers listen on; 1 to 255 UTF-8 bytes
 * @param headers small string headers (at most 32)
 * @param payload the bytes to deliver; copied, so later changes to the caller's array do not leak in
 */
public record Message(String topic, Map<String, String> headers, byte[] payload) {

    /** Validates the topic and copies headers and payload. */
    public Message {
        Objects.requireNonNull(topic, "topic");
        if (topic.isEmpty()) {
            throw new ChorusException("Message topic must not be empty (for example 'cache.users')");
        }
        headers = Map.copyOf(new TreeMap<>(Objects.requireNonNull(headers, "headers")));
        payload = Objects.requireNonNull(payload, "payload").clone();
    }

    /** A message with no headers. */
    public static Message of(String topic, byte[] payload) {
        return new Message(topic, Map.of(), payload);
    }

    /** A message with no headers and a UTF-8 text payload. */
    public static Message of(String topic, String text) {
        return new Message(topic, Map.of(), text.getBytes(StandardCharsets.UTF_8));
    }

    /** This message with one more header. */
    public Message withHeader(String name, String value) {
        TreeMap<String, String> copy = new TreeMap<>(headers);
        copy.put(name, value);
        return new Message(topic, copy, payload);
    }

    /** A copy of the payload (records expose components; this keeps the message immutable). */
    @Override
    public byte[] payload() {
        return payload.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Message that
                && topic.equals(that.topic)
                && headers.equals(that.headers)
                && Arrays.equals(payload, that.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, headers) * 31 + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "Message{" + topic + " headers=" + headers + " payload=" + payload.length + "B}";
    }
}
