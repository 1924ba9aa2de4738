package dev.chorus;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A secret value (the cluster secret) that never prints itself: {@link #toString()} shows only a short
 * fingerprint, which is also what replicas compare to tell whether they share the same secret.
 */
public final class Secret {

    private final String value;

    /** Wraps a secret value. */
    public Secret(String value) {
        this.value = Objects.requireNonNull(value, "value");
    }

    /** The secret itself; callers must never log it. */
    public String reveal() {
        return value;
    }

    /** The secret as UTF-8 bytes, for keying a MAC. */
    public byte[] bytes() {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The first 16 hex digits of SHA-256 over a fixed prefix and the secret: enough to tell two secrets
     * apart, useless for recovering either.
     */
    public String fingerprint() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("chorus-secret-fingerprint:".getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(bytes())).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK ships SHA-256", e);
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
        return "Secret[sha256:" + fingerprint() + "]";
    }
}
