package dev.chorus.server;

import dev.chorus.ChorusConfig;
import dev.chorus.ConfigurationException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The reference server's settings: Chorus's own ({@link ChorusConfig}) plus the HTTP listener, log format
 * and storage schema, read once at start from environment variables (then system properties).
 *
 * @param chorus the library settings (backplane, URLs, channel, limits)
 * @param host the address the HTTP listener binds ({@code CHORUS_HTTP_HOST}, default all interfaces)
 * @param port the HTTP port ({@code PORT} or {@code CHORUS_HTTP_PORT}, default 8080; 0 picks a free one)
 * @param maxBodyBytes the largest resource body accepted (1 MiB)
 * @param storageSchema the PostgreSQL schema of the resource table ({@code CHORUS_STORAGE_SCHEMA})
 * @param env the lookup the settings came from, for the parts read later (keys, clients, token settings)
 */
public record ServerConfig(
        ChorusConfig chorus,
        String host,
        int port,
        int maxBodyBytes,
        String storageSchema,
        Function<String, @Nullable String> env) {

    /** {@code PORT}: the HTTP port, the name most platforms set. */
    public static final String PORT = "PORT";
    /** {@code CHORUS_HTTP_PORT}: the HTTP port when {@code PORT} means something else on the host. */
    public static final String HTTP_PORT = "CHORUS_HTTP_PORT";
    /** {@code CHORUS_HTTP_HOST}: the address to bind. */
    public static final String HTTP_HOST = "CHORUS_HTTP_HOST";
    /** {@code CHORUS_STORAGE_SCHEMA}: where the resource table lives in PostgreSQL. */
    public static final String STORAGE_SCHEMA = "CHORUS_STORAGE_SCHEMA";

    /** {@code CHORUS_WEBHOOK_HOSTS}: the only hosts this replica sends webhooks to, when set. */
    public static final String WEBHOOK_HOSTS = "CHORUS_WEBHOOK_HOSTS";

    /** The default HTTP port. */
    public static final int DEFAULT_PORT = 8080;
    /** The largest resource body: 1 MiB. */
    public static final int MAX_BODY_BYTES = 1 << 20;
    /** The default storage schema. */
    public static final String DEFAULT_STORAGE_SCHEMA = "chorus_server";

    public ServerConfig {
        Objects.requireNonNull(chorus, "chorus");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(storageSchema, "storageSchema");
        Objects.requireNonNull(env, "env");
    }

    /** Reads the environment, then system properties, of this process. */
    public static ServerConfig fromEnvironment() {
        return from(name -> {
            String value = System.getenv(name);
            return value == null || value.isBlank() ? System.getProperty(name) : value;
        });
    }

    /** Reads the settings from a map (tests, embedding). */
    public static ServerConfig from(Map<String, String> values) {
        Map<String, String> copy = Map.copyOf(values);
        return from(copy::get);
    }

    /**
     * Reads and validates every setting through {@code lookup}.
     *
     * @throws ConfigurationException naming the variable, its value and the fix
     */
    public static ServerConfig from(Function<String, @Nullable String> lookup) {
        Function<String, @Nullable String> env = name -> {
            String value = lookup.apply(name);
            return value == null || value.isBlank() ? null : value.strip();
        };
        ChorusConfig chorus = ChorusConfig.from(env);
        if (chorus.backplane() != ChorusConfig.BackplaneKind.INPROCESS
                && chorus.databaseUrl().isEmpty()) {
            throw new ConfigurationException(
                    ChorusConfig.DATABASE_URL,
                    ChorusConfig.BACKPLANE + "=" + chorus.backplane().name().toLowerCase(Locale.ROOT)
                            + " makes this replica one of several, but DATABASE_URL is not set, so each replica"
                            + " would keep its own in-memory resources and answer differently. Set DATABASE_URL"
                            + " (for example DATABASE_URL=postgres://chorus:secret@db:5432/chorus) on every replica,"
                            + " or unset CHORUS_BACKPLANE to run one replica alone.");
        }
        String portVariable = env.apply(HTTP_PORT) != null ? HTTP_PORT : PORT;
        int port = port(portVariable, env.apply(portVariable));
        String host = Objects.requireNonNullElse(env.apply(HTTP_HOST), "0.0.0.0");
        String schema = Objects.requireNonNullElse(env.apply(STORAGE_SCHEMA), DEFAULT_STORAGE_SCHEMA);
        if (!schema.matches("[a-z_][a-z0-9_]{0,62}")) {
            throw new ConfigurationException(
                    STORAGE_SCHEMA,
                    STORAGE_SCHEMA + "='" + schema + "' is not a lower-case PostgreSQL identifier (for example "
                            + STORAGE_SCHEMA + "=" + DEFAULT_STORAGE_SCHEMA + ")");
        }
        return new ServerConfig(chorus, host, port, MAX_BODY_BYTES, schema, env);
    }

    /** A duration setting read like every other Chorus duration, or {@code fallback} when unset. */
    public Duration duration(String variable, Duration fallback) {
        String value = env.apply(variable);
        if (value == null) {
            return fallback;
        }
        Duration parsed = ChorusConfig.parseDuration(value);
        if (parsed == null || parsed.isNegative()) {
            throw new ConfigurationException(
                    variable,
                    variable + "='" + value + "' is not a duration such as 500ms, 15s, 2m or PT15S (for example "
                            + variable + "=" + fallback.toSeconds() + "s)");
        }
        return parsed;
    }

    /**
     * A true/false setting ({@code true}, {@code on}, {@code 1}, {@code yes} or their opposites), false when
     * unset; {@code hint} says what it does, for the error.
     */
    public boolean flag(String variable, String hint) {
        String value = env.apply(variable);
        if (value == null) {
            return false;
        }
        return switch (value.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "on", "1", "yes" -> true;
            case "false", "off", "0", "no" -> false;
            default ->
                throw new ConfigurationException(
                        variable, variable + "='" + value + "' is not true or false (" + hint + ")");
        };
    }

    /** A whole-number setting of at least {@code minimum}, or {@code fallback} when unset. */
    public int count(String variable, int fallback, int minimum) {
        String value = env.apply(variable);
        if (value == null) {
            return fallback;
        }
        try {
            int count = Integer.parseInt(value.strip());
            if (count >= minimum) {
                return count;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigurationException(
                variable,
                variable + "='" + value + "' is not a count of " + minimum + " or more (for example " + variable + "="
                        + fallback + ")");
    }

    /** {@code CHORUS_WEBHOOK_HOSTS}: the hosts webhooks may go to from this replica; empty: any public host. */
    public Set<String> webhookHosts() {
        String value = env.apply(WEBHOOK_HOSTS);
        if (value == null) {
            return Set.of();
        }
        return Arrays.stream(value.split(","))
                .map(String::strip)
                .filter(h -> !h.isEmpty())
                .collect(Collectors.toUnmodifiableSet());
    }

    /** Whether this is the embedded default: one replica, in-process backplane, in-memory storage. */
    public boolean embedded() {
        return chorus.backplane() == ChorusConfig.BackplaneKind.INPROCESS
                && chorus.databaseUrl().isEmpty();
    }

    private static int port(String variable, @Nullable String value) {
        if (value == null) {
            return DEFAULT_PORT;
        }
        try {
            int port = Integer.parseInt(value);
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigurationException(
                variable,
                variable + "='" + value + "' is not a port from 0 to 65535 (for example " + variable + "="
                        + DEFAULT_PORT + "; 0 picks a free port)");
    }
}
