package dev.chorus;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The immutable configuration of one replica, read in exactly one place: {@link #from(Function)}.
 *
 * <p>The server passes a lookup that reads environment variables first and system properties second;
 * tests pass a map. Every problem is collected before failing, so an operator fixes a bad deployment in
 * one round trip: the exception lists each variable with the value it had and a valid example. Secrets
 * never appear in {@link #toString()} or in error messages.
 */
public final class ChorusConfig {

    /** Which transport carries messages between replicas. */
    public enum BackplaneKind {
        /** One JVM only: the embedded default, no infrastructure needed. */
        INPROCESS,
        /** PostgreSQL LISTEN/NOTIFY, publishing tied to the caller's transaction. */
        POSTGRES,
        /** Redis pub/sub. */
        REDIS,
        /** A JGroups peer mesh, no broker. */
        JGROUPS
    }

    /** How JGroups members find each other. */
    public enum Discovery {
        /** UDP multicast on one network segment. */
        MULTICAST,
        /** DNS A or SRV records, for example a Kubernetes headless Service. */
        DNS,
        /** A fixed list of {@code host[port]} peers. */
        TCP
    }

    /** A host and port from {@code CLUSTER_INITIAL_HOSTS}. */
    public record HostPort(String host, int port) {
        @Override
        public String toString() {
            return host + "[" + port + "]";
        }
    }

    public static final String REPLICA_NAME = "CHORUS_REPLICA_NAME";
    public static final String BACKPLANE = "CHORUS_BACKPLANE";
    public static final String DATABASE_URL = "DATABASE_URL";
    public static final String REDIS_URL = "REDIS_URL";
    /**
     * {@code CHORUS_REDIS_LEASE_REPLICAS}: {@code auto} (default) or how many Redis replicas must acknowledge a lease
     * take before its token is handed out.
     */
    public static final String REDIS_LEASE_REPLICAS = "CHORUS_REDIS_LEASE_REPLICAS";

    public static final String CHANNEL = "CHORUS_CHANNEL";
    public static final String DISCOVERY = "CLUSTER_DISCOVERY";
    public static final String DNS_QUERY = "CLUSTER_DNS_QUERY";
    public static final String INITIAL_HOSTS = "CLUSTER_INITIAL_HOSTS";
    public static final String CLUSTER_PORT = "CLUSTER_PORT";
    /** {@code CLUSTER_BIND_ADDRESS}: the local address the mesh binds (default: the transport picks one). */
    public static final String BIND_ADDRESS = "CLUSTER_BIND_ADDRESS";

    public static final String CLUSTER_SECRET = "CHORUS_CLUSTER_SECRET";
    /**
     * {@code CHORUS_CLUSTER_SECRET_FILE}: a file holding the cluster secret (Compose and Docker secrets mount
     * files); surrounding whitespace is not part of it. Set this or {@value #CLUSTER_SECRET}, not both.
     */
    public static final String CLUSTER_SECRET_FILE = "CHORUS_CLUSTER_SECRET_FILE";
    /**
     * {@code CHORUS_ALLOW_UNSIGNED}: {@code true} lets a networked backplane run without a cluster secret, so
     * anyone who can publish on its channel can inject messages. Off by default; logged at WARN and shown in
     * health when on.
     */
    public static final String ALLOW_UNSIGNED = "CHORUS_ALLOW_UNSIGNED";
    /** {@code CHORUS_REPLAY_WINDOW}: how far a signed envelope's timestamp may be from the receiver's clock. */
    public static final String REPLAY_WINDOW = "CHORUS_REPLAY_WINDOW";

    public static final String MAX_INSTANCES = "CHORUS_MAX_INSTANCES";
    public static final String DRAIN_DELAY = "CHORUS_DRAIN_DELAY";
    public static final String MAX_ENVELOPE_BYTES = "CHORUS_MAX_ENVELOPE_BYTES";
    /** {@code on} (default) or {@code off}: whether replicated caches talk to other replicas at all. */
    public static final String CACHE_REPLICATION = "CHORUS_CACHE_REPLICATION";

    /** {@code CHORUS_EVENTS_HISTORY_BYTES}: event data an event hub keeps for resumes. */
    public static final String EVENTS_HISTORY_BYTES = "CHORUS_EVENTS_HISTORY_BYTES";
    /** {@code CHORUS_EVENTS_QUEUE_BYTES}: event data each client's queue (socket) may have pending. */
    public static final String EVENTS_QUEUE_BYTES = "CHORUS_EVENTS_QUEUE_BYTES";
    /** {@code CHORUS_CACHE_MAX_BYTES}: value bytes a replicated cache holds, for caches given a weigher. */
    public static final String CACHE_MAX_BYTES = "CHORUS_CACHE_MAX_BYTES";
    /** {@code CHORUS_SEND_QUEUE_BYTES}: encoded envelopes a backplane may have waiting to be sent. */
    public static final String SEND_QUEUE_BYTES = "CHORUS_SEND_QUEUE_BYTES";
    /** {@code CHORUS_RECEIVE_QUEUE_BYTES}: payload bytes each backplane subscription may have waiting. */
    public static final String RECEIVE_QUEUE_BYTES = "CHORUS_RECEIVE_QUEUE_BYTES";

    /** Default {@value #EVENTS_HISTORY_BYTES}: 32 MiB. */
    public static final long DEFAULT_EVENTS_HISTORY_BYTES = 32L << 20;
    /** Default {@value #EVENTS_QUEUE_BYTES}: 4 MiB. */
    public static final long DEFAULT_EVENTS_QUEUE_BYTES = 4L << 20;
    /** Default {@value #CACHE_MAX_BYTES}: 32 MiB. */
    public static final long DEFAULT_CACHE_MAX_BYTES = 32L << 20;
    /** Default {@value #SEND_QUEUE_BYTES}: 32 MiB. */
    public static final long DEFAULT_SEND_QUEUE_BYTES = 32L << 20;
    /** Default {@value #RECEIVE_QUEUE_BYTES}: 32 MiB. */
    public static final long DEFAULT_RECEIVE_QUEUE_BYTES = 32L << 20;

    public static final String DEFAULT_CHANNEL = "chorus";
    public static final int DEFAULT_CLUSTER_PORT = 7800;
    public static final Duration DEFAULT_DRAIN_DELAY = Duration.ofSeconds(15);
    /** Signed envelopes stamped further than this from the receiver's clock are refused as replays. */
    public static final Duration DEFAULT_REPLAY_WINDOW = Duration.ofMinutes(5);
    /** Smallest replay window: replicas' clocks must agree better than this (NTP keeps them within ms). */
    public static final Duration MIN_REPLAY_WINDOW = Duration.ofSeconds(1);

    /**
     * The envelope size limit when {@code CHORUS_MAX_ENVELOPE_BYTES} is unset: the wire format's own default,
     * {@code EnvelopeCodec.DEFAULT_MAX_BYTES}, repeated (a test checks they agree) so that this package
     * imports none of the packages built on it.
     */
    public static final int DEFAULT_MAX_ENVELOPE_BYTES = 1 << 20;
    /** Shortest accepted cluster secret: HMAC-SHA256 keys shorter than this are guessable. */
    public static final int MIN_SECRET_LENGTH = 16;

    /**
     * Channel names are lower case so that PostgreSQL's unquoted {@code LISTEN chorus} and {@code
     * pg_notify('chorus', ...)} name the same channel, and short enough to be a PostgreSQL identifier.
     */
    private static final Pattern CHANNEL_NAME = Pattern.compile("[a-z][a-z0-9_]{0,47}");

    private static final Pattern HOST_PORT = Pattern.compile("([A-Za-z0-9.\\-:]+)\\[(\\d{1,5})]");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(b|kib|kb|k|mib|mb|m)?");
    private static final Pattern BYTES = Pattern.compile("(\\d+)\\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?");
    private static final Pattern SIMPLE_DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?");

    private final @Nullable String replicaName;
    private final BackplaneKind backplane;
    private final @Nullable String databaseUrl;
    private final @Nullable String redisUrl;
    private final @Nullable Integer redisLeaseReplicas;
    private final String channel;
    private final Discovery discovery;
    private final @Nullable String dnsQuery;
    private final @Nullable String bindAddress;
    private final List<HostPort> initialHosts;
    private final int clusterPort;
    private final @Nullable Secret clusterSecret;
    private final boolean allowUnsigned;
    private final Duration replayWindow;
    private final @Nullable Integer maxInstances;
    private final Duration drainDelay;
    private final int maxEnvelopeBytes;
    private final boolean cacheReplication;
    private final long eventHistoryBytes;
    private final long eventQueueBytes;
    private final long cacheMaxBytes;
    private final long sendQueueBytes;
    private final long receiveQueueBytes;

    private ChorusConfig(Reader r) {
        this.replicaName = r.replicaName;
        this.backplane = r.backplane;
        this.databaseUrl = r.databaseUrl;
        this.redisUrl = r.redisUrl;
        this.redisLeaseReplicas = r.redisLeaseReplicas;
        this.channel = r.channel;
        this.discovery = r.discovery;
        this.dnsQuery = r.dnsQuery;
        this.bindAddress = r.bindAddress;
        this.initialHosts = List.copyOf(r.initialHosts);
        this.clusterPort = r.clusterPort;
        this.clusterSecret = r.clusterSecret;
        this.allowUnsigned = r.allowUnsigned;
        this.replayWindow = r.replayWindow;
        this.maxInstances = r.maxInstances;
        this.drainDelay = r.drainDelay;
        this.maxEnvelopeBytes = r.maxEnvelopeBytes;
        this.cacheReplication = r.cacheReplication;
        this.eventHistoryBytes = r.eventHistoryBytes;
        this.eventQueueBytes = r.eventQueueBytes;
        this.cacheMaxBytes = r.cacheMaxBytes;
        this.sendQueueBytes = r.sendQueueBytes;
        this.receiveQueueBytes = r.receiveQueueBytes;
    }

    /**
     * Reads and validates every setting through {@code lookup}, which returns null (or blank) for a
     * variable that is not set.
     *
     * @throws ConfigurationException listing every invalid variable, its value and a valid example
     */
    public static ChorusConfig from(Function<String, @Nullable String> lookup) {
        Objects.requireNonNull(lookup, "lookup");
        Reader reader = new Reader(lookup);
        reader.readAll();
        if (!reader.problems.isEmpty()) {
            String first = reader.problemVariables.get(0);
            if (reader.problems.size() == 1) {
                throw new ConfigurationException(first, reader.problems.get(0));
            }
            throw new ConfigurationException(
                    first,
                    reader.problems.size() + " configuration problems:\n  - " + String.join("\n  - ", reader.problems));
        }
        return new ChorusConfig(reader);
    }

    /** The configuration with every variable unset: one replica on the in-process backplane. */
    public static ChorusConfig defaults() {
        return from(name -> null);
    }

    /** {@value #REPLICA_NAME}: a human name for this replica, for example the pod name. */
    public Optional<String> replicaName() {
        return Optional.ofNullable(replicaName);
    }

    /** {@value #BACKPLANE}: the transport; {@code inprocess} by default. */
    public BackplaneKind backplane() {
        return backplane;
    }

    /** {@value #DATABASE_URL}: the PostgreSQL URL, if set. */
    public Optional<String> databaseUrl() {
        return Optional.ofNullable(databaseUrl);
    }

    /** {@value #REDIS_URL}: the Redis URL, if set. */
    public Optional<String> redisUrl() {
        return Optional.ofNullable(redisUrl);
    }

    /** {@value #REDIS_LEASE_REPLICAS}: replicas a Redis lease take must reach; empty for {@code auto}, the default. */
    public OptionalInt redisLeaseReplicas() {
        return redisLeaseReplicas == null ? OptionalInt.empty() : OptionalInt.of(redisLeaseReplicas);
    }

    /** {@value #CHANNEL}: the channel (and JGroups cluster) name; {@value #DEFAULT_CHANNEL} by default. */
    public String channel() {
        return channel;
    }

    /** {@value #DISCOVERY}: how JGroups members find each other; {@code MULTICAST} by default. */
    public Discovery discovery() {
        return discovery;
    }

    /** {@value #DNS_QUERY}: the DNS name JGroups queries in DNS discovery mode. */
    public Optional<String> dnsQuery() {
        return Optional.ofNullable(dnsQuery);
    }

    /** {@value #INITIAL_HOSTS}: every member's {@code host[port]} in TCP discovery mode. */
    /** {@value #BIND_ADDRESS}: the address the mesh binds; empty: the transport picks one. */
    public Optional<String> bindAddress() {
        return Optional.ofNullable(bindAddress);
    }

    public List<HostPort> initialHosts() {
        return initialHosts;
    }

    /** {@value #CLUSTER_PORT}: the JGroups port; {@value #DEFAULT_CLUSTER_PORT} by default. */
    public int clusterPort() {
        return clusterPort;
    }

    /** {@value #CLUSTER_SECRET}: the shared secret that signs envelopes, if set. */
    public Optional<Secret> clusterSecret() {
        return Optional.ofNullable(clusterSecret);
    }

    /**
     * {@value #ALLOW_UNSIGNED}: whether a networked backplane may run without {@value #CLUSTER_SECRET}; false
     * by default, and then PostgreSQL, Redis and JGroups refuse to start without a secret.
     */
    public boolean allowUnsigned() {
        return allowUnsigned;
    }

    /**
     * {@value #REPLAY_WINDOW}: a signed envelope whose timestamp is further than this from the receiver's clock,
     * in either direction, is refused as a replay; 5 minutes by default.
     */
    public Duration replayWindow() {
        return replayWindow;
    }

    /** {@value #MAX_INSTANCES}: the most replicas that should be live at once, if limited. */
    public OptionalInt maxInstances() {
        return maxInstances == null ? OptionalInt.empty() : OptionalInt.of(maxInstances);
    }

    /** {@value #DRAIN_DELAY}: how long a draining replica stays up, not ready, before closing sockets. */
    public Duration drainDelay() {
        return drainDelay;
    }

    /** {@value #MAX_ENVELOPE_BYTES}: the largest encoded envelope sent or accepted. */
    public int maxEnvelopeBytes() {
        return maxEnvelopeBytes;
    }

    /** Whether replicated caches send and hear invalidations ({@code CHORUS_CACHE_REPLICATION}, default on). */
    public boolean cacheReplication() {
        return cacheReplication;
    }

    /** {@value #EVENTS_HISTORY_BYTES}: event data an event hub keeps for resumes (default 32 MiB). */
    public long eventHistoryBytes() {
        return eventHistoryBytes;
    }

    /** {@value #EVENTS_QUEUE_BYTES}: event data each client's queue may have pending (default 4 MiB). */
    public long eventQueueBytes() {
        return eventQueueBytes;
    }

    /** {@value #CACHE_MAX_BYTES}: value bytes a replicated cache with a weigher holds (default 32 MiB). */
    public long cacheMaxBytes() {
        return cacheMaxBytes;
    }

    /** {@value #SEND_QUEUE_BYTES}: encoded envelopes waiting to be sent, at most (default 32 MiB). */
    public long sendQueueBytes() {
        return sendQueueBytes;
    }

    /** {@value #RECEIVE_QUEUE_BYTES}: payload bytes each subscription may have waiting (default 32 MiB). */
    public long receiveQueueBytes() {
        return receiveQueueBytes;
    }

    /** The database URL with any password replaced by {@code ****}, safe to log. */
    public Optional<String> databaseUrlMasked() {
        return databaseUrl().map(Secrets::maskUrl);
    }

    /** The Redis URL with any password replaced by {@code ****}, safe to log. */
    public Optional<String> redisUrlMasked() {
        return redisUrl().map(Secrets::maskUrl);
    }

    @Override
    public String toString() {
        return "ChorusConfig{backplane=" + backplane.name().toLowerCase(Locale.ROOT)
                + ", channel=" + channel
                + (replicaName == null ? "" : ", replicaName=" + replicaName)
                + databaseUrlMasked().map(u -> ", databaseUrl=" + u).orElse("")
                + redisUrlMasked().map(u -> ", redisUrl=" + u).orElse("")
                + (redisLeaseReplicas == null ? "" : ", redisLeaseReplicas=" + redisLeaseReplicas)
                + (backplane == BackplaneKind.JGROUPS
                        ? ", discovery=" + discovery + ", clusterPort=" + clusterPort
                                + (dnsQuery == null ? "" : ", dnsQuery=" + dnsQuery)
                                + (initialHosts.isEmpty() ? "" : ", initialHosts=" + initialHosts)
                        : "")
                + ", clusterSecret=" + (clusterSecret == null ? "none" : clusterSecret)
                + (allowUnsigned ? ", allowUnsigned=true" : "")
                + (replayWindow.equals(DEFAULT_REPLAY_WINDOW) ? "" : ", replayWindow=" + replayWindow)
                + (maxInstances == null ? "" : ", maxInstances=" + maxInstances)
                + ", drainDelay=" + drainDelay
                + ", maxEnvelopeBytes=" + maxEnvelopeBytes
                + (cacheReplication ? "" : ", cacheReplication=off")
                + "}";
    }

    /** Reads each variable once and collects every problem instead of stopping at the first. */
    private static final class Reader {
        private final Function<String, @Nullable String> lookup;
        private final List<String> problems = new ArrayList<>();
        private final List<String> problemVariables = new ArrayList<>();

        @Nullable
        String replicaName;

        BackplaneKind backplane = BackplaneKind.INPROCESS;

        @Nullable
        String databaseUrl;

        @Nullable
        String redisUrl;

        @Nullable
        Integer redisLeaseReplicas;

        String channel = DEFAULT_CHANNEL;
        Discovery discovery = Discovery.MULTICAST;

        @Nullable
        String dnsQuery;

        @Nullable
        String bindAddress;

        List<HostPort> initialHosts = List.of();
        int clusterPort = DEFAULT_CLUSTER_PORT;

        @Nullable
        Secret clusterSecret;

        boolean allowUnsigned;
        Duration replayWindow = DEFAULT_REPLAY_WINDOW;

        @Nullable
        Integer maxInstances;

        Duration drainDelay = DEFAULT_DRAIN_DELAY;
        int maxEnvelopeBytes = DEFAULT_MAX_ENVELOPE_BYTES;
        boolean cacheReplication = true;
        long eventHistoryBytes = DEFAULT_EVENTS_HISTORY_BYTES;
        long eventQueueBytes = DEFAULT_EVENTS_QUEUE_BYTES;
        long cacheMaxBytes = DEFAULT_CACHE_MAX_BYTES;
        long sendQueueBytes = DEFAULT_SEND_QUEUE_BYTES;
        long receiveQueueBytes = DEFAULT_RECEIVE_QUEUE_BYTES;

        Reader(Function<String, @Nullable String> lookup) {
            this.lookup = lookup;
        }

        void readAll() {
            String name = get(REPLICA_NAME);
            if (name != null) {
                try {
                    replicaName = ReplicaId.random(name).name();
                } catch (ChorusException e) {
                    problem(
                            REPLICA_NAME,
                            REPLICA_NAME + "='" + name + "' is not a valid replica name: letters,"
                                    + " digits and . _ : @ -, at most " + ReplicaId.MAX_NAME_LENGTH
                                    + " characters (for example " + REPLICA_NAME + "=api-7f9c-2)");
                }
            }
            backplane = parseEnum(BACKPLANE, BackplaneKind.class, BackplaneKind.INPROCESS, "redis");
            databaseUrl = url(
                    DATABASE_URL,
                    List.of("postgres", "postgresql", "jdbc:postgresql"),
                    "postgres://chorus:secret@db.internal:5432/chorus");
            redisUrl = url(
                    REDIS_URL,
                    List.of("redis", "rediss", "redis-sentinel", "redis-socket"),
                    "redis://:secret@cache.internal:6379/0");
            redisLeaseReplicas();
            String ch = get(CHANNEL);
            if (ch != null) {
                if (CHANNEL_NAME.matcher(ch).matches()) {
                    channel = ch;
                } else {
                    problem(
                            CHANNEL,
                            CHANNEL + "='" + ch + "' is not a valid channel name: lower-case letters,"
                                    + " digits and _, starting with a letter, at most 48 characters, so that PostgreSQL"
                                    + " LISTEN and pg_notify agree on it (for example " + CHANNEL + "=orders_prod)");
                }
            }
            discovery = parseEnum(DISCOVERY, Discovery.class, Discovery.MULTICAST, "TCP");
            dnsQuery = get(DNS_QUERY);
            bindAddress = get(BIND_ADDRESS);
            initialHosts = hosts();
            clusterPort = port();
            secret();
            allowUnsigned = trueFalse(ALLOW_UNSIGNED);
            replayWindow = replayWindow();
            maxInstances();
            drainDelay = duration(DRAIN_DELAY, DEFAULT_DRAIN_DELAY, "15s");
            maxEnvelopeBytes = size();
            cacheReplication = onOff(CACHE_REPLICATION);
            eventHistoryBytes = bytes(EVENTS_HISTORY_BYTES, DEFAULT_EVENTS_HISTORY_BYTES);
            eventQueueBytes = bytes(EVENTS_QUEUE_BYTES, DEFAULT_EVENTS_QUEUE_BYTES);
            cacheMaxBytes = bytes(CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_BYTES);
            sendQueueBytes = bytes(SEND_QUEUE_BYTES, DEFAULT_SEND_QUEUE_BYTES);
            receiveQueueBytes = bytes(RECEIVE_QUEUE_BYTES, DEFAULT_RECEIVE_QUEUE_BYTES);
            crossChecks();
        }

        private void crossChecks() {
            if (backplane == BackplaneKind.POSTGRES && databaseUrl == null) {
                problem(
                        DATABASE_URL,
                        BACKPLANE + "=postgres needs " + DATABASE_URL + " (for example " + DATABASE_URL
                                + "=postgres://chorus:secret@db.internal:5432/chorus)");
            }
            if (backplane == BackplaneKind.REDIS && redisUrl == null) {
                problem(
                        REDIS_URL,
                        BACKPLANE + "=redis needs " + REDIS_URL + " (for example " + REDIS_URL
                                + "=redis://cache.internal:6379)");
            }
            if (backplane != BackplaneKind.INPROCESS
                    && clusterSecret == null
                    && !allowUnsigned
                    && !problemVariables.contains(CLUSTER_SECRET)) {
                problem(CLUSTER_SECRET, missingSecret(backplane.name().toLowerCase(Locale.ROOT)));
            }
            if (backplane == BackplaneKind.JGROUPS && discovery == Discovery.DNS && dnsQuery == null) {
                problem(
                        DNS_QUERY,
                        DISCOVERY + "=DNS needs " + DNS_QUERY + " (for example " + DNS_QUERY
                                + "=chorus-headless.default.svc.cluster.local)");
            }
            if (backplane == BackplaneKind.JGROUPS && discovery == Discovery.TCP && initialHosts.isEmpty()) {
                problem(
                        INITIAL_HOSTS,
                        DISCOVERY + "=TCP needs " + INITIAL_HOSTS
                                + " listing every member, itself included (for example "
                                + INITIAL_HOSTS + "=10.0.0.1[7800],10.0.0.2[7800])");
            }
        }

        private boolean onOff(String variable) {
            String value = get(variable);
            if (value == null) {
                return true;
            }
            switch (value.toLowerCase(Locale.ROOT)) {
                case "on", "true", "yes" -> {
                    return true;
                }
                case "off", "false", "no" -> {
                    return false;
                }
                default -> {
                    problem(
                            variable,
                            variable + "='" + value + "' is neither on nor off (for example " + variable
                                    + "=off for a single-replica deployment)");
                    return true;
                }
            }
        }

        private boolean trueFalse(String variable) {
            String value = get(variable);
            if (value == null) {
                return false;
            }
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "true", "yes", "on" -> true;
                case "false", "no", "off" -> false;
                default -> {
                    problem(
                            variable,
                            variable + "='" + value + "' is neither true nor false (for example " + variable
                                    + "=false)");
                    yield false;
                }
            };
        }

        private Duration replayWindow() {
            Duration window = duration(REPLAY_WINDOW, DEFAULT_REPLAY_WINDOW, "5m");
            if (window.compareTo(MIN_REPLAY_WINDOW) < 0) {
                problem(
                        REPLAY_WINDOW,
                        REPLAY_WINDOW + "='" + get(REPLAY_WINDOW) + "' is shorter than " + MIN_REPLAY_WINDOW.toSeconds()
                                + "s; replicas' clocks must agree within the window (for example " + REPLAY_WINDOW
                                + "=5m, with NTP on every host)");
                return DEFAULT_REPLAY_WINDOW;
            }
            return window;
        }

        private @Nullable String get(String variable) {
            String value = lookup.apply(variable);
            return value == null || value.isBlank() ? null : value.strip();
        }

        private void problem(String variable, String message) {
            problemVariables.add(variable);
            problems.add(message);
        }

        private <E extends Enum<E>> E parseEnum(String variable, Class<E> type, E fallback, String example) {
            String value = get(variable);
            if (value == null) {
                return fallback;
            }
            for (E constant : type.getEnumConstants()) {
                if (constant.name().equalsIgnoreCase(value)) {
                    return constant;
                }
            }
            List<String> names = new ArrayList<>();
            for (E constant : type.getEnumConstants()) {
                names.add(constant.name().toLowerCase(Locale.ROOT));
            }
            problem(
                    variable,
                    variable + "='" + value + "' is not one of " + names + " (for example " + variable + "=" + example
                            + ")");
            return fallback;
        }

        private @Nullable String url(String variable, List<String> schemes, String example) {
            String value = get(variable);
            if (value == null) {
                return null;
            }
            String masked = Secrets.maskUrl(value);
            int colon = value.indexOf("://");
            String scheme = colon < 0 ? "" : value.substring(0, colon).toLowerCase(Locale.ROOT);
            if (!schemes.contains(scheme)) {
                problem(
                        variable,
                        variable + "='" + masked + "' must start with one of "
                                + schemes.stream().map(s -> s + "://").toList() + " (for example " + variable + "="
                                + example + ")");
                return null;
            }
            try {
                URI uri = URI.create(value.startsWith("jdbc:") ? value.substring(5) : value);
                if (!scheme.equals("redis-socket")
                        && (uri.getHost() == null || uri.getHost().isBlank())
                        && uri.getAuthority() == null) {
                    problem(
                            variable,
                            variable + "='" + masked + "' has no host (for example " + variable + "=" + example + ")");
                    return null;
                }
            } catch (IllegalArgumentException e) {
                problem(
                        variable,
                        variable + "='" + masked + "' is not a valid URL: " + e.getMessage() + " (for example "
                                + variable + "=" + example + ")");
                return null;
            }
            return value;
        }

        private List<HostPort> hosts() {
            String value = get(INITIAL_HOSTS);
            if (value == null) {
                return List.of();
            }
            List<HostPort> result = new ArrayList<>();
            for (String part : value.split(",")) {
                Matcher m = HOST_PORT.matcher(part.strip());
                int port = m.matches() ? Integer.parseInt(m.group(2)) : -1;
                if (port < 1 || port > 65535) {
                    problem(
                            INITIAL_HOSTS,
                            INITIAL_HOSTS + " entry '" + part.strip()
                                    + "' is not host[port] with a port from 1 to 65535 (for example " + INITIAL_HOSTS
                                    + "=10.0.0.1[7800],10.0.0.2[7800])");
                    return List.of();
                }
                result.add(new HostPort(m.group(1), port));
            }
            return result;
        }

        private int port() {
            String value = get(CLUSTER_PORT);
            if (value == null) {
                return DEFAULT_CLUSTER_PORT;
            }
            try {
                int port = Integer.parseInt(value);
                if (port >= 1 && port <= 65535) {
                    return port;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            problem(
                    CLUSTER_PORT,
                    CLUSTER_PORT + "='" + value + "' is not a port from 1 to 65535 (for example " + CLUSTER_PORT + "="
                            + DEFAULT_CLUSTER_PORT + ")");
            return DEFAULT_CLUSTER_PORT;
        }

        private void secret() {
            String value = get(CLUSTER_SECRET);
            String file = get(CLUSTER_SECRET_FILE);
            if (value != null && file != null) {
                problem(
                        CLUSTER_SECRET,
                        CLUSTER_SECRET + " and " + CLUSTER_SECRET_FILE + " are both set; set only one of them (for"
                                + " example " + CLUSTER_SECRET_FILE + "=/run/secrets/chorus-cluster-secret)");
                return;
            }
            if (file != null) {
                try {
                    // A secret file ends with the newline an editor or 'openssl rand' wrote: not part of the secret.
                    value = java.nio.file.Files.readString(java.nio.file.Path.of(file))
                            .strip();
                } catch (java.io.IOException | RuntimeException e) {
                    problem(
                            CLUSTER_SECRET_FILE,
                            CLUSTER_SECRET_FILE + "='" + file + "' cannot be read ("
                                    + e.getClass().getSimpleName()
                                    + "); mount the secret there, readable by this process (for example "
                                    + CLUSTER_SECRET_FILE + "=/run/secrets/chorus-cluster-secret)");
                    return;
                }
            }
            if (value == null) {
                return;
            }
            if (value.length() < MIN_SECRET_LENGTH) {
                // Never echo a secret, not even a bad one.
                problem(
                        CLUSTER_SECRET,
                        CLUSTER_SECRET + " is " + value.length() + " characters long; use at least "
                                + MIN_SECRET_LENGTH + " random characters (for example the output of"
                                + " 'openssl rand -base64 32')");
                return;
            }
            clusterSecret = new Secret(value);
        }

        private void redisLeaseReplicas() {
            String value = get(REDIS_LEASE_REPLICAS);
            if (value == null || value.equalsIgnoreCase("auto")) {
                return;
            }
            try {
                int n = Integer.parseInt(value);
                if (n >= 0) {
                    redisLeaseReplicas = n;
                    return;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            problem(
                    REDIS_LEASE_REPLICAS,
                    REDIS_LEASE_REPLICAS + "='" + value + "' is neither auto nor a whole number of at least 0 (for"
                            + " example " + REDIS_LEASE_REPLICAS
                            + "=1 to hand out a lease only once a replica has it)");
        }

        private void maxInstances() {
            String value = get(MAX_INSTANCES);
            if (value == null) {
                return;
            }
            try {
                int n = Integer.parseInt(value);
                if (n >= 1) {
                    maxInstances = n;
                    return;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            problem(
                    MAX_INSTANCES,
                    MAX_INSTANCES + "='" + value + "' is not a whole number of at least 1" + " (for example "
                            + MAX_INSTANCES + "=3)");
        }

        private Duration duration(String variable, Duration fallback, String example) {
            String value = get(variable);
            if (value == null) {
                return fallback;
            }
            Duration parsed = parseDuration(value);
            if (parsed == null || parsed.isNegative()) {
                problem(
                        variable,
                        variable + "='" + value + "' is not a duration such as 500ms, 15s, 2m or PT15S"
                                + " (for example " + variable + "=" + example + ")");
                return fallback;
            }
            return parsed;
        }

        /** A memory bound from 64 KiB to 1 TiB, such as {@code 32MiB}, {@code 512k} or {@code 1GiB}. */
        private long bytes(String variable, long fallback) {
            String value = get(variable);
            if (value == null) {
                return fallback;
            }
            Matcher m = BYTES.matcher(value.toLowerCase(Locale.ROOT));
            if (m.matches() && m.group(1).length() <= 13) {
                long n = Long.parseLong(m.group(1));
                String unit = m.group(2) == null ? "b" : m.group(2);
                long bytes = switch (unit.charAt(0)) {
                    case 'k' -> n << 10;
                    case 'm' -> n << 20;
                    case 'g' -> n << 30;
                    default -> n;
                };
                if (bytes >= 64L << 10 && bytes <= 1L << 40) {
                    return bytes;
                }
            }
            problem(
                    variable,
                    variable + "='" + value + "' is not a size from 64KiB to 1TiB (for example " + variable + "="
                            + (fallback >> 20) + "MiB)");
            return fallback;
        }

        private int size() {
            String value = get(MAX_ENVELOPE_BYTES);
            if (value == null) {
                return DEFAULT_MAX_ENVELOPE_BYTES;
            }
            Matcher m = SIZE.matcher(value.toLowerCase(Locale.ROOT));
            if (m.matches()) {
                try {
                    long n = Long.parseLong(m.group(1));
                    String unit = m.group(2) == null ? "b" : m.group(2);
                    long bytes = switch (unit) {
                        case "k", "kb", "kib" -> n * 1024;
                        case "m", "mb", "mib" -> n * 1024 * 1024;
                        default -> n;
                    };
                    if (bytes >= 1024 && bytes <= 64L * 1024 * 1024) {
                        return (int) bytes;
                    }
                } catch (NumberFormatException ignored) {
                    // reported below
                }
            }
            problem(
                    MAX_ENVELOPE_BYTES,
                    MAX_ENVELOPE_BYTES + "='" + value + "' is not a size from 1KiB to 64MiB" + " (for example "
                            + MAX_ENVELOPE_BYTES + "=1MiB)");
            return DEFAULT_MAX_ENVELOPE_BYTES;
        }
    }

    /**
     * The error for a networked backplane ({@code backend}) without a cluster secret: how to make one, and
     * the explicit opt-out. Shared by this class and every transport's builder so they say the same.
     */
    public static String missingSecret(String backend) {
        return "The " + backend + " backplane needs a cluster secret: without one, anyone who can publish on its"
                + " channel can inject messages into every replica. Generate one with 'openssl rand -base64 32' and"
                + " set the same value on every replica as " + CLUSTER_SECRET + " (or in a file named by "
                + CLUSTER_SECRET_FILE + "; in code: .secret(new Secret(...)))."
                + " To run unsigned anyway, set " + ALLOW_UNSIGNED + "=true (in code: .allowUnsigned())";
    }

    /**
     * Parses {@code 500ms}, {@code 15s}, {@code 2m}, {@code 1h}, a bare number of seconds or ISO-8601; null
     * when {@code value} is none of these. Shared so every Chorus setting reads durations the same way.
     */
    public static @Nullable Duration parseDuration(String value) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        if (v.startsWith("pt") || v.startsWith("p")) {
            try {
                return Duration.parse(v.toUpperCase(Locale.ROOT));
            } catch (RuntimeException e) {
                return null;
            }
        }
        Matcher m = SIMPLE_DURATION.matcher(v);
        if (!m.matches()) {
            return null;
        }
        try {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofSeconds(n);
            };
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }
}
