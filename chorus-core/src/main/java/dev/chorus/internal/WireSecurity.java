package dev.chorus.internal;

import dev.chorus.ChorusConfig;
import dev.chorus.ConfigurationException;
import dev.chorus.Secret;
import org.jspecify.annotations.Nullable;

/** The one check every networked transport's builder runs: a cluster secret, or an explicit opt-out. */
public final class WireSecurity {

    private WireSecurity() {}

    /**
     * Refuses to build the {@code backend} backplane without a secret unless {@code allowUnsigned}; the
     * message says how to make a secret and how to opt out.
     *
     * @throws ConfigurationException naming {@value ChorusConfig#CLUSTER_SECRET}
     */
    public static void requireSecret(String backend, @Nullable Secret secret, boolean allowUnsigned) {
        if (secret == null && !allowUnsigned) {
            throw new ConfigurationException(ChorusConfig.CLUSTER_SECRET, ChorusConfig.missingSecret(backend));
        }
    }
}
