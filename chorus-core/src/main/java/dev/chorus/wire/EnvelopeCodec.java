package dev.chorus.wire;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/*
 * Format version 1, big-endian:
 *
 *   magic     2 bytes  'C' 'E'
 *   version   u8       1
 *   flags     u8       bit 0: an HMAC-SHA256 trailer follows; other bits must be 0
 *   kind      u8       Envelope.Kind code
 *   cluster   u8 length + UTF-8
 *   origin    16 bytes UUID (most, least significant)
 *   name      u8 length + UTF-8 (0 = no name)
 *   epoch     i64
 *   sequence  i64
 *   timestamp i64      microseconds since the Unix epoch
 *   topic     u16 length + UTF-8 (1..255 bytes)
 *   headers   u8 count, then per header: u8 length + UTF-8 name, u16 length + UTF-8 value;
 *             sorted by name (String order), no repeats, so every envelope has one encoding
 *   payload   i32 length + bytes
 *   mac       32 bytes, HMAC-SHA256 over every byte before it (only when flag bit 0 is set), keyed by
 *             Secret.derive(Secret.ENVELOPE_MAC), never by the secret itself
 *
 * Invariants: decode() never throws; whatever it accepts re-encodes to exactly the same bytes; the MAC is checked before any field is interpreted, so a forged
 * envelope cannot even reach the cluster check; an envelope is accepted only if it is consumed exactly,
 * with no trailing bytes.
 */

/**
 * Encodes envelopes to bytes and decodes bytes back, with an optional HMAC-SHA256 keyed by the cluster
 * secret and a size limit. One codec per cluster; it is thread-safe.
 */
public final class EnvelopeCodec {

    /** The only format version this codec writes and reads. */
    public static final int VERSION = 1;

    /** The size limit of a codec whose builder is not given one: 1 MiB. */
    public static final int DEFAULT_MAX_BYTES = 1 << 20;

    static final byte MAGIC_0 = 'C';
    static final byte MAGIC_1 = 'E';
    static final int FLAG_SIGNED = 1;
    static final int MAC_BYTES = 32;
    /** Bytes before the variable-length fields start: magic, version, flags, kind. */
    static final int PREFIX_BYTES = 5;

    private static final String MAC_ALGORITHM = "HmacSHA256";

    private final String cluster;
    private final @Nullable SecretKeySpec key;
    private final int maxBytes;
    private final ThreadLocal<@Nullable Mac> macs = new ThreadLocal<>();
    private final java.util.concurrent.ConcurrentHashMap<UUID, ReplicaId> origins =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final int MAX_CACHED_ORIGINS = 1024;

    private EnvelopeCodec(String cluster, @Nullable Secret secret, int maxBytes) {
        this.cluster = cluster;
        this.key = secret == null ? null : new SecretKeySpec(secret.derive(Secret.ENVELOPE_MAC), MAC_ALGORITHM);
        this.maxBytes = maxBytes;
    }

    /** A codec for {@code cluster} without signatures and with the default size limit. */
    public static EnvelopeCodec forCluster(String cluster) {
        return builder(cluster).build();
    }

    /** A builder for a codec that accepts only envelopes of {@code cluster}. */
    public static Builder builder(String cluster) {
        return new Builder(cluster);
    }

    /** The cluster this codec writes into envelopes and expects in them. */
    public String cluster() {
        return cluster;
    }

    /** Whether envelopes are signed and signatures required. */
    public boolean signed() {
        return key != null;
    }

    /** The largest encoded envelope this codec writes or accepts. */
    public int maxBytes() {
        return maxBytes;
    }

    /**
     * Whether every envelope {@code sender} encodes would decode here unchanged: same cluster, same secret
     * (or none on both sides) and a size limit at least as large. In-process transports use it to hand over
     * the envelope itself instead of decoding the same bytes once per receiver.
     */
    public boolean acceptsEverythingFrom(EnvelopeCodec sender) {
        boolean sameKey = key == null
                ? sender.key == null
                : sender.key != null && MessageDigest.isEqual(key.getEncoded(), sender.key.getEncoded());
        return sameKey && cluster.equals(sender.cluster) && maxBytes >= sender.maxBytes;
    }

    /** The encoded size of {@code envelope} without encoding it. */
    public int encodedSize(Envelope envelope) {
        int size = PREFIX_BYTES
                + 1
                + utf8Length(envelope.cluster())
                + 16
                + 1
                + (envelope.origin().name() == null
                        ? 0
                        : utf8Length(envelope.origin().name()))
                + 8
                + 8
                + 8
                + 2
                + utf8Length(envelope.topic())
                + 1;
        for (Map.Entry<String, String> header : envelope.headers().entrySet()) {
            size += 1 + utf8Length(header.getKey()) + 2 + utf8Length(header.getValue());
        }
        size += 4 + envelope.payloadSize();
        return key == null ? size : size + MAC_BYTES;
    }

    /**
     * Encodes {@code envelope}, signing it when this codec has a secret.
     *
     * @throws EnvelopeTooLargeException when the result would exceed {@link #maxBytes()}
     */
    public byte[] encode(Envelope envelope) {
        Objects.requireNonNull(envelope, "envelope");
        if (!envelope.cluster().equals(cluster)) {
            throw new ChorusException(
                    "Envelope is for cluster '" + envelope.cluster() + "' but this codec writes '" + cluster + "'");
        }
        int size = encodedSize(envelope);
        if (size > maxBytes) {
            throw new EnvelopeTooLargeException(envelope.topic(), size, maxBytes);
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(MAGIC_0).put(MAGIC_1).put((byte) VERSION).put((byte) (key == null ? 0 : FLAG_SIGNED));
        out.put((byte) envelope.kind().code());
        putShortString(out, envelope.cluster());
        out.putLong(envelope.origin().uuid().getMostSignificantBits());
        out.putLong(envelope.origin().uuid().getLeastSignificantBits());
        String name = envelope.origin().name();
        putShortString(out, name == null ? "" : name);
        out.putLong(envelope.epoch()).putLong(envelope.sequence()).putLong(envelope.timestampMicros());
        byte[] topic = envelope.topic().getBytes(StandardCharsets.UTF_8);
        out.putShort((short) topic.length).put(topic);
        out.put((byte) envelope.headers().size());
        for (Map.Entry<String, String> header : envelope.headers().entrySet()) {
            putShortString(out, header.getKey());
            byte[] value = header.getValue().getBytes(StandardCharsets.UTF_8);
            out.putShort((short) value.length).put(value);
        }
        byte[] payload = envelope.payloadUnsafe();
        out.putInt(payload.length).put(payload);
        if (key != null) {
            Mac mac = mac();
            mac.update(out.array(), 0, out.position());
            out.put(mac.doFinal());
        }
        return out.array();
    }

    /**
     * Whether {@code bytes} look like a sequenced MESSAGE from {@code origin}, judged from the fixed header
     * without decoding or checking the signature. A transport uses it to drop its own echoes cheaply: they
     * would be dropped after decoding anyway, since local subscribers already have them. Never throws.
     */
    public boolean isSequencedMessageFrom(byte[] bytes, int offset, int length, UUID origin) {
        if (length < PREFIX_BYTES + 1
                || bytes[offset] != MAGIC_0
                || bytes[offset + 1] != MAGIC_1
                || (bytes[offset + 2] & 0xFF) != VERSION
                || (bytes[offset + 4] & 0xFF) != Envelope.Kind.MESSAGE.code()) {
            return false;
        }
        int at = offset + PREFIX_BYTES;
        int clusterLength = bytes[at] & 0xFF;
        at += 1 + clusterLength;
        if (at + 16 + 1 > offset + length) {
            return false;
        }
        ByteBuffer view = ByteBuffer.wrap(bytes, at, 16);
        if (view.getLong() != origin.getMostSignificantBits() || view.getLong() != origin.getLeastSignificantBits()) {
            return false;
        }
        at += 16;
        int nameLength = bytes[at] & 0xFF;
        at += 1 + nameLength + 8; // name, epoch
        if (at + 8 > offset + length) {
            return false;
        }
        return ByteBuffer.wrap(bytes, at, 8).getLong() != 0;
    }

    /** Decodes {@code bytes}; never throws, whatever the bytes are. */
    public DecodeResult decode(byte[] bytes) {
        if (bytes == null) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "no bytes");
        }
        return decode(bytes, 0, bytes.length);
    }

    /** Decodes {@code length} bytes of {@code bytes} from {@code offset}; never throws. */
    public DecodeResult decode(byte[] bytes, int offset, int length) {
        try {
            return decodeChecked(bytes, offset, length);
        } catch (BufferUnderflowException e) {
            return new DecodeResult.Rejected(Rejection.TRUNCATED, "the bytes end inside a field");
        } catch (RuntimeException e) {
            // A bug in the parser must not stop a receive loop; report it as malformed with its type.
            return new DecodeResult.Rejected(
                    Rejection.MALFORMED, "unparseable: " + e.getClass().getSimpleName());
        }
    }

    private DecodeResult decodeChecked(byte[] bytes, int offset, int length) {
        if (offset < 0 || length < 0 || offset > bytes.length - length) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "offset and length outside the array");
        }
        if (length > maxBytes) {
            return new DecodeResult.Rejected(
                    Rejection.TOO_LARGE, length + " bytes exceed the limit of " + maxBytes + " bytes");
        }
        if (length < 2) {
            return new DecodeResult.Rejected(Rejection.TRUNCATED, length + " bytes are too short for an envelope");
        }
        if (bytes[offset] != MAGIC_0 || bytes[offset + 1] != MAGIC_1) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "not a Chorus envelope (no magic bytes)");
        }
        if (length < PREFIX_BYTES) {
            return new DecodeResult.Rejected(Rejection.TRUNCATED, length + " bytes are too short for an envelope");
        }
        int version = bytes[offset + 2] & 0xFF;
        if (version != VERSION) {
            return new DecodeResult.Rejected(
                    Rejection.UNKNOWN_VERSION,
                    "format version " + version + " (this replica speaks version " + VERSION + ")");
        }
        int flags = bytes[offset + 3] & 0xFF;
        if ((flags & ~FLAG_SIGNED) != 0) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "unknown flags 0x" + Integer.toHexString(flags));
        }
        boolean signed = (flags & FLAG_SIGNED) != 0;
        int bodyLength = length;
        if (key != null && !signed) {
            return new DecodeResult.Rejected(
                    Rejection.BAD_SIGNATURE,
                    "unsigned, but this replica requires signatures because a cluster secret is set");
        }
        if (key == null && signed) {
            return new DecodeResult.Rejected(
                    Rejection.BAD_SIGNATURE, "signed, but this replica has no cluster secret to check it with");
        }
        if (signed) {
            if (length < PREFIX_BYTES + MAC_BYTES) {
                return new DecodeResult.Rejected(Rejection.TRUNCATED, "too short to carry its signature");
            }
            bodyLength = length - MAC_BYTES;
            Mac mac = mac();
            mac.update(bytes, offset, bodyLength);
            byte[] expected = mac.doFinal();
            byte[] actual = Arrays.copyOfRange(bytes, offset + bodyLength, offset + length);
            if (!MessageDigest.isEqual(expected, actual)) {
                return new DecodeResult.Rejected(
                        Rejection.BAD_SIGNATURE, "HMAC mismatch: another secret, or the bytes were altered");
            }
        }
        ByteBuffer in = ByteBuffer.wrap(bytes, offset + PREFIX_BYTES, bodyLength - PREFIX_BYTES);
        int kindCode = bytes[offset + 4] & 0xFF;
        Envelope.Kind kind = Envelope.Kind.fromCode(kindCode);
        if (kind == null) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "unknown kind " + kindCode);
        }
        String envelopeCluster = readString(in, in.get() & 0xFF, "cluster");
        UUID uuid = new UUID(in.getLong(), in.getLong());
        String name = readString(in, in.get() & 0xFF, "origin name");
        long epoch = in.getLong();
        long sequence = in.getLong();
        long timestamp = in.getLong();
        int topicLength = in.getShort() & 0xFFFF;
        if (topicLength == 0 || topicLength > Envelope.MAX_TOPIC_BYTES) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "topic length " + topicLength);
        }
        String topic = readString(in, topicLength, "topic");
        int headerCount = in.get() & 0xFF;
        if (headerCount > Envelope.MAX_HEADERS) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, headerCount + " headers");
        }
        Map<String, String> headers = new LinkedHashMap<>(headerCount * 2);
        @Nullable String previousName = null;
        for (int i = 0; i < headerCount; i++) {
            int nameLength = in.get() & 0xFF;
            if (nameLength > Envelope.MAX_HEADER_NAME_BYTES) {
                return new DecodeResult.Rejected(Rejection.MALFORMED, "header name length " + nameLength);
            }
            String headerName = readString(in, nameLength, "header name");
            int valueLength = in.getShort() & 0xFFFF;
            if (valueLength > Envelope.MAX_HEADER_VALUE_BYTES) {
                return new DecodeResult.Rejected(Rejection.MALFORMED, "header value length " + valueLength);
            }
            if (previousName != null && previousName.compareTo(headerName) >= 0) {
                // Encoders write headers sorted and unique, so every envelope has exactly one encoding.
                return new DecodeResult.Rejected(Rejection.MALFORMED, "headers out of order or repeated");
            }
            previousName = headerName;
            headers.put(headerName, readString(in, valueLength, "header value"));
        }
        int payloadLength = in.getInt();
        if (payloadLength < 0) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "negative payload length");
        }
        if (payloadLength > in.remaining()) {
            return new DecodeResult.Rejected(
                    Rejection.TRUNCATED,
                    "payload of " + payloadLength + " bytes but only " + in.remaining() + " remain");
        }
        byte[] payload = new byte[payloadLength];
        in.get(payload);
        if (in.hasRemaining()) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, in.remaining() + " trailing bytes");
        }
        if (envelopeCluster.length() > Envelope.MAX_CLUSTER_BYTES) {
            return new DecodeResult.Rejected(Rejection.MALFORMED, "cluster name too long");
        }
        if (!envelopeCluster.equals(cluster)) {
            return new DecodeResult.Rejected(
                    Rejection.FOREIGN_CLUSTER,
                    "from cluster '" + envelopeCluster + "', this replica is in '" + cluster + "'");
        }
        ReplicaId origin = origins.get(uuid);
        if (origin == null || !Objects.equals(origin.name(), name.isEmpty() ? null : name)) {
            try {
                origin = ReplicaId.of(uuid, name.isEmpty() ? null : name);
            } catch (ChorusException e) {
                return new DecodeResult.Rejected(Rejection.MALFORMED, "invalid origin name");
            }
            if (!name.isEmpty() && !name.equals(origin.name())) {
                // ReplicaId trims names; a name that needed trimming was never written by an encoder.
                return new DecodeResult.Rejected(Rejection.MALFORMED, "origin name with surrounding whitespace");
            }
            // Validating a name takes a regular expression; a cluster has a handful of origins, so remember them.
            if (origins.size() > MAX_CACHED_ORIGINS) {
                origins.clear();
            }
            origins.put(uuid, origin);
        }
        return new DecodeResult.Decoded(
                Envelope.decoded(kind, envelopeCluster, origin, epoch, sequence, timestamp, topic, headers, payload));
    }

    private static String readString(ByteBuffer in, int length, String field) {
        if (length > in.remaining()) {
            throw new BufferUnderflowException();
        }
        int start = in.position();
        in.position(start + length);
        if (in.hasArray()) {
            // Fast path: the lenient JDK decoder, trusted only when it replaced nothing. Valid UTF-8 never
            // decodes to U+FFFD unless it contains U+FFFD itself, which the strict path below then accepts.
            String text = new String(in.array(), in.arrayOffset() + start, length, StandardCharsets.UTF_8);
            if (text.indexOf('\uFFFD') < 0) {
                return text;
            }
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer slice = in.slice(start, length);
        try {
            CharBuffer chars = decoder.decode(slice);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new MalformedFieldException(field);
        }
    }

    private static void putShortString(ByteBuffer out, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        out.put((byte) bytes.length).put(bytes);
    }

    private static int utf8Length(@Nullable String value) {
        return value == null ? 0 : value.getBytes(StandardCharsets.UTF_8).length;
    }

    private Mac mac() {
        Mac mac = macs.get();
        if (mac == null) {
            try {
                mac = Mac.getInstance(MAC_ALGORITHM);
                mac.init(Objects.requireNonNull(key));
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("every JDK ships " + MAC_ALGORITHM, e);
            }
            macs.set(mac);
        }
        return mac;
    }

    /** Thrown inside the parser only, and turned into a MALFORMED rejection. */
    private static final class MalformedFieldException extends RuntimeException {
        MalformedFieldException(String field) {
            super("invalid UTF-8 in " + field, null, false, false);
        }
    }

    /** Builds an {@link EnvelopeCodec}. */
    public static final class Builder {
        private final String cluster;
        private @Nullable Secret secret;
        private int maxBytes = DEFAULT_MAX_BYTES;

        private Builder(String cluster) {
            Objects.requireNonNull(cluster, "cluster");
            if (cluster.isEmpty() || utf8Length(cluster) > Envelope.MAX_CLUSTER_BYTES) {
                throw new ChorusException("Cluster name must be 1 to " + Envelope.MAX_CLUSTER_BYTES
                        + " UTF-8 bytes, was '" + cluster + "'");
            }
            this.cluster = cluster;
        }

        /** Signs every envelope and requires signatures on every received one; null means unsigned. */
        public Builder secret(@Nullable Secret secret) {
            this.secret = secret;
            return this;
        }

        /** The largest encoded envelope written or accepted; at least 1 KiB. */
        public Builder maxBytes(int maxBytes) {
            if (maxBytes < 1024) {
                throw new ChorusException("Envelope size limit must be at least 1024 bytes, was " + maxBytes);
            }
            this.maxBytes = maxBytes;
            return this;
        }

        /** The codec. */
        public EnvelopeCodec build() {
            return new EnvelopeCodec(cluster, secret, maxBytes);
        }
    }
}
