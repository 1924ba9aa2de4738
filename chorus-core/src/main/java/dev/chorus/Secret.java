package dev.chorus;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/*
 * Keys are never the secret itself. derive(purpose) is HKDF-SHA256 (RFC 5869) with a fixed salt and the
 * purpose as info, so each use (envelope MAC, JGroups encryption, JGroups member tag, fingerprint) gets an
 * independent key and knowing one output reveals neither the secret nor another output. The fingerprint is
 * one more derivation with its own label, cut to 64 bits: it cannot serve as a key, and checking a guessed
 * secret against it costs as much as checking it against any signed envelope seen on the wire, so printing
 * it gives an attacker nothing a captured envelope does not. A guessable secret is the real risk, hence
 * ChorusConfig.MIN_SECRET_LENGTH and the advice to use 'openssl rand -base64 32'.
 */

/**
 * A secret value (the cluster secret) that never prints itself: {@link #toString()} shows only a short
 * fingerprint, which is also what replicas compare to tell whether they share the same secret.
 */
public final class Secret {

    /** The HKDF purpose label of the envelope HMAC key. */
    public static final String ENVELOPE_MAC = "chorus envelope mac v1";

    private static final String FINGERPRINT = "chorus secret fingerprint v1";
    private static final byte[] SALT = "chorus-kdf-salt-v1".getBytes(StandardCharsets.UTF_8);
    private static final String HMAC = "HmacSHA256";

    private final String value;

    /** Wraps a secret value. */
    public Secret(String value) {
        this.value = Objects.requireNonNull(value, "value");
    }

    /** The secret itself; callers must never log it. */
    public String reveal() {
        return value;
    }

    /** The secret as UTF-8 bytes. Never key anything with them directly: use {@link #derive(String)}. */
    public byte[] bytes() {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A 32-byte key for one {@code purpose}, by HKDF-SHA256 over the secret: different purposes give
     * unrelated keys, and no key reveals the secret.
     */
    public byte[] derive(String purpose) {
        Objects.requireNonNull(purpose, "purpose");
        byte[] pseudoRandomKey = hmac(SALT, bytes());
        byte[] info = purpose.getBytes(StandardCharsets.UTF_8);
        byte[] block = Arrays.copyOf(info, info.length + 1);
        block[info.length] = 1; // HKDF-Expand's first (and, for 32 bytes, only) block counter
        return hmac(pseudoRandomKey, block);
    }

    /**
     * 16 hex digits derived from the secret with a label of their own: enough to tell two secrets apart, not
     * a key, and no faster to test a guess against than a signed envelope.
     */
    public String fingerprint() {
        return HexFormat.of().formatHex(derive(FINGERPRINT), 0, 8);
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JDK ships " + HMAC, e);
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Secret that && MessageDigest.isEqual(bytes(), that.bytes());
    }

    @Override
    public int hashCode() {
        return fingerprint().hashCode();
    }

    @Override
    public String toString() {
        return "Secret[" + fingerprint() + "]";
    }
}
