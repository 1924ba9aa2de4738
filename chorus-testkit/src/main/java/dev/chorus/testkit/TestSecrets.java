package dev.chorus.testkit;

import dev.chorus.Secret;

/**
 * The cluster secret every test replica shares: networked backplanes refuse to start without one, and tests
 * run the signed configuration a deployment runs. Child processes get it as {@code CHORUS_CLUSTER_SECRET}.
 */
public final class TestSecrets {

    /** The value, for environments of child processes and servers ({@code CHORUS_CLUSTER_SECRET}). */
    public static final String VALUE = "chorus-test-secret-0123456789";

    /** The same secret as {@link #VALUE}, for builders. */
    public static final Secret SECRET = new Secret(VALUE);

    private TestSecrets() {}
}
