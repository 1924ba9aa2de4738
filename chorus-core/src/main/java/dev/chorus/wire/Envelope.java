package dev.chorus.wire;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One message as it travels between replicas: what it is ({@link Kind}), where it comes from (cluster,
 * origin replica, origin epoch, per-origin sequence), when it was sent, its topic, small headers and
 * opaque payload bytes.
 *
 * <p>Origin, epoch and sequence are stamped by the sending transport, not by the caller, because only the
 * sender knows the order in which envelopes actually leave (a transactional publish that rolls back must
 * not consume a sequence number). Receivers use {@code (origin, epoch, sequence)} per topic to detect a
 * gap. Instances are immutable: the payload is copied on the way in and on the way out.
 */
public final class Envelope {

    /** Longest topic in UTF-8 bytes. */
    public static final int MAX_TOPIC_BYTES = 255;
    /** Longest cluster name in UTF-8 bytes. */
    public static final int MAX_CLUSTER_BYTES = 64;
    /** Most headers on one envelope. */
    public static final int MAX_HEADERS = 32;
    /** Longest header name in UTF-8 bytes. */
    public static final int MAX_HEADER_NAME_BYTES = 64;
    /** Longest header value in UTF-8 bytes. */
    public static final int MAX_HEADER_VALUE_BYTES = 1024;

    /** What an envelope is for; the code is its byte on the wire. */
    public enum Kind {
        /** A message for the subscribers of its topic. */
        MESSAGE(1),
        /** A transport's own probe, sent to itself to prove the path works; never given to subscribers. */
        CANARY(2),
        /** A transport's own control traffic (hello, version, leave); never given to subscribers. */
        CONTROL(3);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        /** The byte that stands for this kind on the wire. */
        public int code() {
            return code;
        }

        static @org.jspecify.annotations.Nullable Kind fromCode(int code) {
            for (Kind kind : values()) {
                if (kind.code == code) {
                    return kind;
                }
            }
            return null;
        }
    }

    private final Kind kind;
    private final String cluster;
    private final ReplicaId origin;
    private final long epoch;
    private final long sequence;
    private final long timestampMicros;
    private final String topic;
    private final Map<String, String> headers;
    private final byte[] payload;

    private Envelope(
            Kind kind,
            String cluster,
            ReplicaId origin,
            long epoch,
            long sequence,
            long timestampMicros,
            String topic,
            Map<String, String> headers,
            byte[] payload,
            boolean copy) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.cluster = checkLength("cluster", cluster, MAX_CLUSTER_BYTES);
        this.origin = Objects.requireNonNull(origin, "origin");
        this.epoch = epoch;
        this.sequence = sequence;
        this.timestampMicros = timestampMicros;
        this.topic = checkLength("topic", topic, MAX_TOPIC_BYTES);
        if (topic.isEmpty()) {
            throw new ChorusException("Envelope topic must not be empty");
        }
        this.headers = checkHeaders(headers);
        Objects.requireNonNull(payload, "payload");
        this.payload = copy ? payload.clone() : payload;
    }

    /** Builds an envelope, validating every field against the wire limits. */
    public static Envelope of(
            Kind kind,
            String cluster,
            ReplicaId origin,
            long epoch,
            long sequence,
            Instant timestamp,
            String topic,
            Map<String, String> headers,
            byte[] payload) {
        return new Envelope(kind, cluster, origin, epoch, sequence, toMicros(timestamp), topic, headers, payload, true);
    }

    /** For the codec: the payload array was freshly allocated and is handed over, not copied. */
    static Envelope decoded(
            Kind kind,
            String cluster,
            ReplicaId origin,
            long epoch,
            long sequence,
            long timestampMicros,
            String topic,
            Map<String, String> headers,
            byte[] payload) {
        return new Envelope(kind, cluster, origin, epoch, sequence, timestampMicros, topic, headers, payload, false);
    }

    private static long toMicros(Instant instant) {
        return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), 1_000_000L), instant.getNano() / 1000);
    }

    private static String checkLength(String field, String value, int maxBytes) {
        Objects.requireNonNull(value, field);
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > maxBytes) {
            throw new ChorusException(
                    "Envelope " + field + " is " + bytes + " bytes in UTF-8; the limit is " + maxBytes + " bytes");
        }
        return value;
    }

    private static Map<String, String> checkHeaders(Map<String, String> headers) {
        Objects.requireNonNull(headers, "headers");
        if (headers.size() > MAX_HEADERS) {
            throw new ChorusException(
                    "Envelope has " + headers.size() + " headers; the limit is " + MAX_HEADERS + " headers");
        }
        TreeMap<String, String> copy = new TreeMap<>();
        headers.forEach((name, value) -> {
            checkLength("header name", name, MAX_HEADER_NAME_BYTES);
            checkLength("header '" + name + "' value", value, MAX_HEADER_VALUE_BYTES);
            copy.put(name, value);
        });
        return java.util.Collections.unmodifiableMap(copy);
    }

    /** What this envelope is for. */
    public Kind kind() {
        return kind;
    }

    /** The cluster (channel) it was sent on; receivers drop envelopes from another cluster. */
    public String cluster() {
        return cluster;
    }

    /** The replica that sent it. Only the UUID and name travel; the name may be null. */
    public ReplicaId origin() {
        return origin;
    }

    /** The origin's sequence epoch: a new epoch restarts the sequence, so a receiver cannot bridge it. */
    public long epoch() {
        return epoch;
    }

    /**
     * The origin's sequence number for this topic in this epoch, from 1 without holes; 0 for an unsequenced
     * envelope, whose order is decided outside the origin (a NOTIFY that commits with a caller's transaction).
     */
    public long sequence() {
        return sequence;
    }

    /** When the origin sent it, by the origin's clock. */
    public Instant timestamp() {
        return Instant.ofEpochSecond(
                Math.floorDiv(timestampMicros, 1_000_000L), Math.floorMod(timestampMicros, 1_000_000L) * 1000);
    }

    /** When the origin sent it, in microseconds since the epoch by the origin's clock. */
    public long timestampMicros() {
        return timestampMicros;
    }

    /** The topic its subscribers listen on. */
    public String topic() {
        return topic;
    }

    /** Small string headers, sorted by name, unmodifiable. */
    public Map<String, String> headers() {
        return headers;
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload length without copying it. */
    public int payloadSize() {
        return payload.length;
    }

    /** The payload decoded as UTF-8, a convenience for text payloads. */
    public String payloadAsString() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    byte[] payloadUnsafe() {
        return payload;
    }

    /** Whether {@code replica} sent this envelope. */
    public boolean isFrom(ReplicaId replica) {
        return origin.equals(replica);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Envelope that
                && kind == that.kind
                && epoch == that.epoch
                && sequence == that.sequence
                && timestampMicros == that.timestampMicros
                && cluster.equals(that.cluster)
                && origin.equals(that.origin)
                && Objects.equals(origin.name(), that.origin.name())
                && topic.equals(that.topic)
                && headers.equals(that.headers)
                && Arrays.equals(payload, that.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, cluster, origin, epoch, sequence, timestampMicros, topic, headers)
                + 31 * Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "Envelope{" + kind + " " + cluster + "/" + topic + " from " + origin.shortForm() + " epoch=" + epoch
                + " seq=" + sequence + " headers=" + headers + " payload=" + payload.length + "B}";
    }
}
