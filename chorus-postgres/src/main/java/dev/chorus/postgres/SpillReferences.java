package dev.chorus.postgres;

import dev.chorus.Secret;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/*
 * A spill reference is the text of a NOTIFY, so anyone who may NOTIFY can forge one; the envelope it points
 * to is signed, but fetching it is the cost. So the reference is authenticated too, and bound to what it may
 * name:
 *
 *   s<id>.<origin>[.<mac>]   origin: 32 hex digits of the sending replica, empty for an unsequenced envelope
 *                            mac: base64url of the first 16 bytes of HMAC-SHA256(key, channel NUL s<id>.<origin>)
 *
 * The key is derived from the cluster secret with a purpose label, so it is never the envelope key. A signed
 * cluster rejects a reference without a valid MAC before any query; the fetch also filters on the channel, so a
 * reference (even a valid one from another channel sharing the secret) cannot load another channel's row.
 */

/** Makes and checks spill references bound to a channel and an origin. */
final class SpillReferences {

    private static final String ALGORITHM = "HmacSHA256";
    private static final String PURPOSE = "chorus postgres spill reference v1";
    private static final int MAC_BYTES = 16;
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();

    private final String channel;
    private final @Nullable SecretKeySpec key;
    private final ThreadLocal<Mac> macs;

    SpillReferences(String channel, @Nullable Secret secret) {
        this.channel = channel;
        this.key = secret == null ? null : new SecretKeySpec(derive(secret), ALGORITHM);
        this.macs = ThreadLocal.withInitial(this::newMac);
    }

    /** Whether references carry, and must carry, a MAC. */
    boolean signed() {
        return key != null;
    }

    /** The reference to spill row {@code id}, written by {@code origin} (null for an unsequenced envelope). */
    String reference(long id, @Nullable UUID origin) {
        String body = "s" + id + "." + (origin == null ? "" : hex(origin));
        return key == null ? body : body + "." + mac(body);
    }

    /** Whether {@code reference} was made by a holder of the secret for this channel (always, when unsigned). */
    boolean authentic(NotificationPayloads.Unpacked.SpillReference reference) {
        if (key == null) {
            return true;
        }
        String mac = reference.mac();
        return mac != null
                && MessageDigest.isEqual(
                        mac(reference.body()).getBytes(StandardCharsets.US_ASCII),
                        mac.getBytes(StandardCharsets.US_ASCII));
    }

    private String mac(String body) {
        Mac mac = macs.get();
        mac.update(channel.getBytes(StandardCharsets.UTF_8));
        mac.update((byte) 0);
        return ENCODER.encodeToString(Arrays.copyOf(mac.doFinal(body.getBytes(StandardCharsets.US_ASCII)), MAC_BYTES));
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            if (key != null) {
                mac.init(key);
            }
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JDK ships " + ALGORITHM, e);
        }
    }

    private static byte[] derive(Secret secret) {
        // The same HKDF as every other key of the cluster secret, under a label of its own.
        return secret.derive(PURPOSE);
    }

    static String hex(UUID uuid) {
        return String.format("%016x%016x", uuid.getMostSignificantBits(), uuid.getLeastSignificantBits());
    }
}
