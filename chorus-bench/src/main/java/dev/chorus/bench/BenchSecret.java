package dev.chorus.bench;

import dev.chorus.Secret;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * One random cluster secret per benchmark run, shared by every replica it starts: networked backplanes
 * refuse to run unsigned, and the numbers should include signing as a deployment runs it.
 */
final class BenchSecret {

    /** The value, as {@code openssl rand -base64 32} would print it; for {@code CHORUS_CLUSTER_SECRET}. */
    static final String VALUE = random();

    /** The same secret, for builders. */
    static final Secret SECRET = new Secret(VALUE);

    private BenchSecret() {}

    private static String random() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }
}
