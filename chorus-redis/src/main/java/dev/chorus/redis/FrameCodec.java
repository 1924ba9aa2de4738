package dev.chorus.redis;

import dev.chorus.internal.Frames;
import io.lettuce.core.codec.RedisCodec;
import java.nio.ByteBuffer;

/*
 * The second line behind RespBulkGuard, which closes the subscription on the header of a message longer than
 * any accepted frame, before Lettuce buffers it. Should a message that long reach decoding anyway, Lettuce holds
 * it whole and ByteArrayCodec would copy it into a new byte[] only for the frame to be rejected after the copy; this
 * codec answers TOO_LARGE instead, an array of its own that no decoded message can be (compared by identity), and
 * remembers the size for the log line. Lettuce decodes and dispatches a connection's messages on one event loop
 * thread, in order, so the size read in onFrame is the one of the message at hand.
 */

/** The subscription's codec: copies a message only if it can be a frame this replica accepts. */
final class FrameCodec implements RedisCodec<byte[], byte[]> {

    /** Stands for a message longer than {@link #maxFrameBytes()}; never returned for anything else. */
    static final byte[] TOO_LARGE = new byte[0];

    private final int maxFrameBytes;
    private volatile long lastTooLargeBytes;

    /** A codec for frames of envelopes of at most {@code maxEnvelopeBytes}. */
    FrameCodec(int maxEnvelopeBytes) {
        // A publisher cuts frames at MAX_FRAME_BYTES unless one envelope alone is larger (RedisPublisher.takeFrame).
        this.maxFrameBytes = (int) Math.min(
                Integer.MAX_VALUE,
                Math.max(RedisPublisher.MAX_FRAME_BYTES, Frames.HEADER_BYTES + 4L + maxEnvelopeBytes));
    }

    /** The longest message copied; longer ones decode to {@link #TOO_LARGE}. */
    int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** The size of the last message decoded to {@link #TOO_LARGE}. */
    long lastTooLargeBytes() {
        return lastTooLargeBytes;
    }

    @Override
    public byte[] decodeKey(ByteBuffer bytes) {
        return copy(bytes);
    }

    @Override
    public byte[] decodeValue(ByteBuffer bytes) {
        if (bytes.remaining() > maxFrameBytes) {
            lastTooLargeBytes = bytes.remaining();
            return TOO_LARGE;
        }
        return copy(bytes);
    }

    @Override
    public ByteBuffer encodeKey(byte[] key) {
        return ByteBuffer.wrap(key);
    }

    @Override
    public ByteBuffer encodeValue(byte[] value) {
        return ByteBuffer.wrap(value);
    }

    private static byte[] copy(ByteBuffer bytes) {
        byte[] copy = new byte[bytes.remaining()];
        bytes.get(copy);
        return copy;
    }
}
