package dev.chorus.redis;

import java.nio.ByteBuffer;
import java.util.List;

/*
 * One PUBLISH carries one frame of one or more envelopes, so a busy publisher sends far fewer, larger
 * messages (Redis's cost is per message, not per byte):
 *
 *   'C' 'B'  then, repeated:  u32 length, envelope bytes
 *
 * Envelopes inside a frame keep their order. A message on the channel that is not a frame (someone's
 * PUBLISH chorus:bp hello) is one MALFORMED rejection.
 */

/** Packs envelopes into a PUBLISH payload and walks a received one. */
final class Frames {

    static final byte MAGIC_0 = 'C';
    static final byte MAGIC_1 = 'B';

    private Frames() {}

    /** The frame size of {@code envelopes}. */
    static int size(List<byte[]> envelopes) {
        int size = 2;
        for (byte[] envelope : envelopes) {
            size += 4 + envelope.length;
        }
        return size;
    }

    /** One frame holding {@code envelopes} in order. */
    static byte[] pack(List<byte[]> envelopes) {
        ByteBuffer frame = ByteBuffer.allocate(size(envelopes));
        frame.put(MAGIC_0).put(MAGIC_1);
        for (byte[] envelope : envelopes) {
            frame.putInt(envelope.length).put(envelope);
        }
        return frame.array();
    }

    /** Receives the envelopes of a frame. */
    interface Visitor {
        /** One envelope: {@code length} bytes of {@code frame} from {@code offset}. */
        void envelope(byte[] frame, int offset, int length);

        /** The message is not a well-formed frame; envelopes before the damage were already visited. */
        void malformed(String why);
    }

    /** Walks {@code frame}, never throwing. */
    static void unpack(byte[] frame, Visitor visitor) {
        if (frame.length < 2 || frame[0] != MAGIC_0 || frame[1] != MAGIC_1) {
            visitor.malformed("not a Chorus frame (no magic bytes)");
            return;
        }
        int at = 2;
        if (at == frame.length) {
            visitor.malformed("an empty frame");
            return;
        }
        while (at < frame.length) {
            if (frame.length - at < 4) {
                visitor.malformed("a frame ends inside a length");
                return;
            }
            int length = ((frame[at] & 0xFF) << 24)
                    | ((frame[at + 1] & 0xFF) << 16)
                    | ((frame[at + 2] & 0xFF) << 8)
                    | (frame[at + 3] & 0xFF);
            at += 4;
            if (length < 0 || length > frame.length - at) {
                visitor.malformed("a frame announces " + length + " bytes but " + (frame.length - at) + " remain");
                return;
            }
            visitor.envelope(frame, at, length);
            at += length;
        }
    }
}
