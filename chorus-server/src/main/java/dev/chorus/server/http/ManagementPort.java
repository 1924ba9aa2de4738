package dev.chorus.server.http;

import dev.chorus.ConfigurationException;
import dev.chorus.server.ServerConfig;
import org.jspecify.annotations.Nullable;

/**
 * The optional management listener ({@code CHORUS_MANAGEMENT_PORT}, as Keycloak's 9000 and Pekko's 8558):
 * the detailed health and the metrics without a token, for scrapers and dashboards, bound on {@code
 * CHORUS_MANAGEMENT_HOST} (127.0.0.1 unless told otherwise). Keep it off the public network.
 */
record ManagementPort(String host, int port) {

    /** The management port setting; unset, there is none. */
    static final String PORT = "CHORUS_MANAGEMENT_PORT";
    /** The address the management port binds. */
    static final String HOST = "CHORUS_MANAGEMENT_HOST";

    static @Nullable ManagementPort from(ServerConfig config) {
        String port = config.env().apply(PORT);
        if (port == null || port.isBlank()) {
            return null;
        }
        String host = config.env().apply(HOST);
        try {
            int parsed = Integer.parseInt(port.strip());
            boolean valid = parsed >= 0 && parsed <= 65535;
            boolean clashes = parsed != 0 && parsed == config.port();
            if (valid && !clashes) {
                return new ManagementPort(host == null || host.isBlank() ? "127.0.0.1" : host.strip(), parsed);
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigurationException(
                PORT,
                PORT + "='" + port + "' is not a port from 0 to 65535 other than the HTTP port (for example " + PORT
                        + "=9000)");
    }
}
