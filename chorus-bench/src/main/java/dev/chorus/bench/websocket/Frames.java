package dev.chorus.bench.websocket;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * The RFC 6455 bytes the client needs: the handshake key and its expected accept value, masked client frames,
 * and the header of a frame as it arrives (server frames are unmasked, but a masked one is read too).
 */
final class Frames {

    static final int CONTINUATION = 0x0;
    static final int TEXT = 0x1;
    static final int BINARY = 0x2;
    static final int CLOSE = 0x8;
    static final int PING = 0x9;
    static final int PONG = 0xA;

    /** Close code: normal closure. */
    static final int NORMAL = 1000;
    /** Close code for "no status received", which must never be sent in a close frame itself. */
    static final int NO_STATUS = 1005;

    private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private Frames() {}

    /**
     * A frame's header, once its bytes are all there.
     *
     * @param length header bytes, mask key included
     * @param payloadLength payload bytes that follow the header
     * @param mask the mask key, meaningful only when {@code masked}
     */
    record Header(boolean fin, int opcode, int length, long payloadLength, boolean masked, int mask) {

        boolean isControl() {
            return (opcode & 0x8) != 0;
        }
    }

    /** The {@code Sec-WebSocket-Key} of a new handshake: 16 random bytes in base64. */
    static String newKey(RandomGenerator random) {
        byte[] nonce = new byte[16];
        random.nextBytes(nonce);
        return Base64.getEncoder().encodeToString(nonce);
    }

    /** The {@code Sec-WebSocket-Accept} a server must answer {@code key} with. */
    static String acceptFor(String key) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            byte[] digest = sha1.digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-1", e);
        }
    }

    /** One final client frame, masked with {@code mask} as RFC 6455 requires of every client frame. */
    static ByteBuffer clientFrame(int opcode, byte[] payload, int mask) {
        int extended = payload.length < 126 ? 0 : payload.length <= 0xFFFF ? 2 : 8;
        ByteBuffer frame = ByteBuffer.allocate(2 + extended + 4 + payload.length);
        frame.put((byte) (0x80 | opcode));
        if (extended == 0) {
            frame.put((byte) (0x80 | payload.length));
        } else if (extended == 2) {
            frame.put((byte) (0x80 | 126)).putShort((short) payload.length);
        } else {
            frame.put((byte) (0x80 | 127)).putLong(payload.length);
        }
        frame.putInt(mask);
        for (int i = 0; i < payload.length; i++) {
            frame.put((byte) (payload[i] ^ (mask >>> (8 * (3 - (i & 3))))));
        }
        return frame.flip();
    }

    /** A close frame's payload: the code, then the reason in UTF-8. */
    static byte[] closePayload(int code, String reason) {
        byte[] text = reason.getBytes(StandardCharsets.UTF_8);
        byte[] payload = new byte[2 + text.length];
        payload[0] = (byte) (code >>> 8);
        payload[1] = (byte) code;
        System.arraycopy(text, 0, payload, 2, text.length);
        return payload;
    }

    /** The code of a close frame's payload, {@link #NO_STATUS} when it carries none. */
    static int closeCode(byte[] data, int offset, int length) {
        return length < 2 ? NO_STATUS : ((data[offset] & 0xFF) << 8) | (data[offset + 1] & 0xFF);
    }

    /** The header starting at {@code offset}, or null while fewer than all its bytes have arrived. */
    static @Nullable Header header(byte[] data, int offset, int available) {
        if (available < 2) {
            return null;
        }
        int b0 = data[offset] & 0xFF;
        int b1 = data[offset + 1] & 0xFF;
        boolean masked = (b1 & 0x80) != 0;
        int length7 = b1 & 0x7F;
        int extended = length7 < 126 ? 0 : length7 == 126 ? 2 : 8;
        int length = 2 + extended + (masked ? 4 : 0);
        if (available < length) {
            return null;
        }
        long payloadLength = length7;
        if (extended > 0) {
            payloadLength = 0;
            for (int i = 0; i < extended; i++) {
                payloadLength = (payloadLength << 8) | (data[offset + 2 + i] & 0xFF);
            }
        }
        int mask = 0;
        if (masked) {
            int at = offset + 2 + extended;
            mask = ((data[at] & 0xFF) << 24)
                    | ((data[at + 1] & 0xFF) << 16)
                    | ((data[at + 2] & 0xFF) << 8)
                    | (data[at + 3] & 0xFF);
        }
        return new Header((b0 & 0x80) != 0, b0 & 0x0F, length, payloadLength, masked, mask);
    }

    /** Unmasks a payload in place. */
    static void unmask(byte[] data, int offset, int length, int mask) {
        for (int i = 0; i < length; i++) {
            data[offset + i] ^= (byte) (mask >>> (8 * (3 - (i & 3))));
        }
    }
}
