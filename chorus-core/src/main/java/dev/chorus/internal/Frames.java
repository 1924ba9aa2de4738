package dev.chorus.internal;

import java.nio.ByteBuffer;
import java.util.List;

/*
 * One transport message (a Redis PUBLISH, a JGroups message) carries one frame of one or more envelopes,
 * so a busy publisher sends far fewer, larger messages: both transports' cost is per message, not per byte.
 *
 *   'C' 'B'  then, repeated:  u32 length, envelope bytes
 *
 * Envelopes inside a frame keep their order. A message that is not a frame (someone's PUBLISH chorus:bp
 * hello) is one MALFORMED rejection.
 */

/** Packs envelopes into one transport message and walks a received one; for transport implementations. */
public final class Frames {

    /** First magic byte of a frame. */
    public static final byte MAGIC_0 = 'C';
    /** Second magic byte of a frame. */
    public static final byte MAGIC_1 = 'B';

    /** Bytes of a frame before its first envelope: the magic. */
    public static final int HEADER_BYTES = 2;

    private Frames() {}

    /** Bytes {@code envelope} adds to a frame: its length and itself. */
    public static int entryBytes(byte[] envelope) {
        return 4 + envelope.length;
    }

    /** The frame size of {@code envelopes}. */
    public static int size(List<byte[]> envelopes) {
        int size = HEADER_BYTES;
        for (byte[] envelope : envelopes) {
            size += entryBytes(envelope);
        }
        return size;
    }

    /** One frame holding {@code envelopes} in order. */
    public static byte[] pack(List<byte[]> envelopes) {
        ByteBuffer frame = ByteBuffer.allocate(size(envelopes));
        frame.put(MAGIC_0).put(MAGIC_1);
        for (byte[] envelope : envelopes) {
            frame.putInt(envelope.length).put(envelope);
        }
        return frame.array();
    }

    /** Receives the envelopes of a frame. */
    public interface Visitor {
        /** One envelope: {@code length} bytes of {@code frame} from {@code offset}. */
        void envelope(byte[] frame, int offset, int length);

        /** The message is not a well-formed frame; envelopes before the damage were already visited. */
        void malformed(String why);
    }

    /** Walks {@code frame}, never throwing. */
    public static void unpack(byte[] frame, Visitor visitor) {
        unpack(frame, 0, frame.length, visitor);
    }

    /** Walks the frame in {@code length} bytes of {@code buffer} from {@code offset}, never throwing. */
    public static void unpack(byte[] buffer, int offset, int length, Visitor visitor) {
        int end = offset + length;
        if (length < 2 || buffer[offset] != MAGIC_0 || buffer[offset + 1] != MAGIC_1) {
            visitor.malformed("not a Chorus frame (no magic bytes)");
            return;
        }
        int at = offset + 2;
        if (at == end) {
            visitor.malformed("an empty frame");
            return;
        }
        while (at < end) {
            if (end - at < 4) {
                visitor.malformed("a frame ends inside a length");
                return;
            }
            int envelopeLength = ((buffer[at] & 0xFF) << 24)
                    | ((buffer[at + 1] & 0xFF) << 16)
                    | ((buffer[at + 2] & 0xFF) << 8)
                    | (buffer[at + 3] & 0xFF);
            at += 4;
            if (envelopeLength < 0 || envelopeLength > end - at) {
                visitor.malformed("a frame announces " + envelopeLength + " bytes but " + (end - at) + " remain");
                return;
            }
            visitor.envelope(buffer, at, envelopeLength);
            at += envelopeLength;
        }
    }
}
