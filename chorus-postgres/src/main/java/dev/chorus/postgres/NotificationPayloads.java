package dev.chorus.postgres;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/*
 * NOTIFY payloads are text of at most 7999 bytes, so envelopes travel base64-encoded:
 *
 *   e<base64>[.<base64>]*   one or more envelopes, in order ('.' is not in the base64 alphabet)
 *   s<id>.<origin>[.<mac>]  one envelope too large for a notification, stored in the spill table
 *                           (SpillReferences says what binds it); a bare s<id> is parsed for older senders
 *
 * Packing keeps envelope order: notifications are emitted in order, each filled with consecutive
 * envelopes. PostgreSQL drops a notification identical to an earlier one in the same transaction; ours
 * never are, because every envelope carries its own (origin, epoch, sequence) or a nonce.
 */

/** Packs encoded envelopes into NOTIFY payloads and unpacks them. */
final class NotificationPayloads {

    /** The server refuses payloads of 8000 bytes or more; keep a margin. */
    static final int MAX_PAYLOAD_CHARS = 7_900;

    /** The largest envelope that fits one notification on its own. */
    static final int MAX_INLINE_ENVELOPE_BYTES = (MAX_PAYLOAD_CHARS - 1) / 4 * 3;

    private static final Base64.Encoder ENCODER = Base64.getEncoder();
    private static final Base64.Decoder DECODER = Base64.getDecoder();

    private NotificationPayloads() {}

    /** Whether {@code envelope} must go through the spill table. */
    static boolean needsSpill(byte[] envelope) {
        return envelope.length > MAX_INLINE_ENVELOPE_BYTES;
    }

    /** One piece of a batch: inline envelope bytes, or the id of a spilled one. */
    sealed interface Piece {
        /** An envelope small enough to travel in a notification. */
        record Inline(byte[] envelope) implements Piece {}

        /** An envelope stored in the spill table, as the reference that names its row. */
        record Spilled(String reference) implements Piece {}
    }

    /** Packs pieces, in order, into as few payloads as fit. */
    static List<String> pack(List<Piece> pieces) {
        List<String> payloads = new ArrayList<>();
        StringBuilder current = null;
        for (Piece piece : pieces) {
            switch (piece) {
                case Piece.Spilled spilled -> {
                    if (current != null) {
                        payloads.add(current.toString());
                        current = null;
                    }
                    payloads.add(spilled.reference());
                }
                case Piece.Inline inline -> {
                    String encoded = ENCODER.encodeToString(inline.envelope());
                    if (current != null && current.length() + 1 + encoded.length() > MAX_PAYLOAD_CHARS) {
                        payloads.add(current.toString());
                        current = null;
                    }
                    if (current == null) {
                        current = new StringBuilder(Math.min(MAX_PAYLOAD_CHARS, encoded.length() * 4)).append('e');
                    } else {
                        current.append('.');
                    }
                    current.append(encoded);
                }
            }
        }
        if (current != null) {
            payloads.add(current.toString());
        }
        return payloads;
    }

    /** What one received payload holds. */
    sealed interface Unpacked {
        /** Envelope bytes to decode, in order. */
        record Envelopes(List<byte[]> envelopes) implements Unpacked {}

        /**
         * A spill row to load: its id, the origin that wrote it (null when unsequenced or not said), the signed
         * part of the reference and its MAC (null when absent).
         */
        record SpillReference(
                long id,
                @Nullable UUID origin,
                String body,
                @Nullable String mac) implements Unpacked {}

        /** Not something Chorus sent: someone else's NOTIFY on our channel, or corruption. */
        record Foreign(String why) implements Unpacked {}
    }

    /** Unpacks a received payload; never throws. */
    static Unpacked unpack(String payload) {
        if (payload.isEmpty()) {
            return new Unpacked.Foreign("empty payload");
        }
        char kind = payload.charAt(0);
        if (kind == 's') {
            return unpackReference(payload);
        }
        if (kind != 'e') {
            return new Unpacked.Foreign("payload does not start with a Chorus marker");
        }
        List<byte[]> envelopes = new ArrayList<>();
        int start = 1;
        while (start <= payload.length()) {
            int end = payload.indexOf('.', start);
            if (end < 0) {
                end = payload.length();
            }
            try {
                envelopes.add(DECODER.decode(payload.substring(start, end)));
            } catch (IllegalArgumentException e) {
                return new Unpacked.Foreign("payload is not base64");
            }
            start = end + 1;
        }
        return new Unpacked.Envelopes(envelopes);
    }

    private static Unpacked unpackReference(String payload) {
        if (payload.length() > 100) {
            return new Unpacked.Foreign("spill reference is too long");
        }
        String[] parts = payload.split("\\.", -1);
        if (parts.length > 3) {
            return new Unpacked.Foreign("spill reference has too many parts");
        }
        long id;
        UUID origin = null;
        try {
            id = Long.parseLong(parts[0], 1, parts[0].length(), 10);
            if (parts.length > 1 && !parts[1].isEmpty()) {
                if (parts[1].length() != 32) {
                    return new Unpacked.Foreign("spill reference names no origin");
                }
                origin = new UUID(
                        Long.parseUnsignedLong(parts[1], 0, 16, 16), Long.parseUnsignedLong(parts[1], 16, 32, 16));
            }
        } catch (NumberFormatException e) {
            return new Unpacked.Foreign("spill reference is not a number");
        }
        String body = parts.length > 2 ? payload.substring(0, payload.lastIndexOf('.')) : payload;
        return new Unpacked.SpillReference(id, origin, body, parts.length > 2 ? parts[2] : null);
    }
}
