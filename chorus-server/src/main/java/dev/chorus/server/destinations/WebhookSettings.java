package dev.chorus.server.destinations;

import dev.chorus.ConfigurationException;
import dev.chorus.server.ServerConfig;
import java.util.Set;

/**
 * Where this replica's webhooks may go and how many destinations a tenant may define, from the
 * {@code CHORUS_WEBHOOK_*} settings. Closed by default: public addresses only, no allow-list.
 *
 * @param allowedHosts {@code CHORUS_WEBHOOK_HOSTS}: when not empty, the only hosts webhooks go to; a host
 *     on it may resolve to private and link-local addresses
 * @param allowPrivate {@code CHORUS_WEBHOOK_ALLOW_PRIVATE}: any host may resolve to loopback, private,
 *     carrier-grade NAT and unique-local addresses (never link-local, multicast, broadcast or unspecified)
 * @param maxPerTenant {@code CHORUS_WEBHOOK_MAX_PER_TENANT}: destinations one tenant may define
 */
public record WebhookSettings(Set<String> allowedHosts, boolean allowPrivate, int maxPerTenant) {

    /** The allow-list setting. */
    public static final String HOSTS = ServerConfig.WEBHOOK_HOSTS;
    /** The switch that lets webhooks reach private networks. */
    public static final String ALLOW_PRIVATE = "CHORUS_WEBHOOK_ALLOW_PRIVATE";
    /** The per-tenant cap setting. */
    public static final String MAX_PER_TENANT = "CHORUS_WEBHOOK_MAX_PER_TENANT";
    /** Default cap: each destination is a queue and a thread on every replica. */
    public static final int DEFAULT_MAX_PER_TENANT = 100;

    /** Copies the hosts and checks the cap. */
    public WebhookSettings {
        allowedHosts = Set.copyOf(allowedHosts);
        if (maxPerTenant < 0) {
            throw new IllegalArgumentException("maxPerTenant must be >= 0, was " + maxPerTenant);
        }
    }

    /** Public addresses only, no allow-list, the default cap. */
    public static WebhookSettings closed() {
        return new WebhookSettings(Set.of(), false, DEFAULT_MAX_PER_TENANT);
    }

    /** Reads and validates the settings; a bad value fails start-up naming the variable and the fix. */
    public static WebhookSettings from(ServerConfig config) {
        Set<String> hosts = config.webhookHosts();
        for (String host : hosts) {
            if (host.contains("/") || host.contains("@") || host.contains(" ")) {
                throw new ConfigurationException(
                        HOSTS,
                        HOSTS + " entry '" + host + "' is not a host; list bare host names or addresses, comma"
                                + "-separated (for example " + HOSTS + "=hooks.example.org,10.0.0.5)");
            }
        }
        return new WebhookSettings(
                hosts,
                config.flag(
                        ALLOW_PRIVATE,
                        "webhooks reach only public addresses unless " + ALLOW_PRIVATE + "=true; to allow one"
                                + " internal host, list it in " + HOSTS + " instead"),
                config.count(MAX_PER_TENANT, DEFAULT_MAX_PER_TENANT, 0));
    }
}
