package dev.chorus.server.destinations;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.Backoff;
import dev.chorus.backplane.Backplane;
import dev.chorus.cluster.ClusterCalls;
import dev.chorus.registry.DefinitionCodec;
import dev.chorus.registry.DefinitionStore;
import dev.chorus.registry.ReplicaStatus;
import dev.chorus.registry.ReplicatedRegistry;
import dev.chorus.registry.ResourceStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The webhook destinations of every tenant, as a {@link ReplicatedRegistry}: a destination is stored once
 * with its signing secret, every replica builds its own {@link WebhookSender} from it, and each replica POSTs
 * the events of the changes made through it. Registry ids are {@link DestinationKey tenant-qualified}; the
 * API shows the id inside the tenant only.
 *
 * <p>Where webhooks may go is checked three times: the URL and what its host resolves to when a destination
 * is created, the URL again when each replica builds its sender (under that replica's settings), and every
 * resolved address before every connection ({@link TargetPolicy}).
 */
public final class Destinations implements AutoCloseable {

    /** The registry's name. */
    public static final String REGISTRY = "destinations";

    private static final Logger LOG = LoggerFactory.getLogger(Destinations.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final ReplicatedRegistry<Destination, WebhookSender> registry;
    private final TargetPolicy targets;
    private final int maxPerTenant;
    /** Serialises creates, so two at once cannot both pass the cap; creates are rare. */
    private final Object createLock = new Object();

    /** A destination just created: its id, and the definition with the secret shown this once. */
    public record Created(String id, Destination destination) {}

    /** A create refused because the tenant has as many destinations as {@code limit} allows. */
    public static final class LimitReachedException extends IllegalStateException {

        private static final long serialVersionUID = 1L;

        private final int limit;

        LimitReachedException(String tenant, int limit) {
            super("tenant '" + tenant + "' already has " + limit + " webhook destinations, the most "
                    + WebhookSettings.MAX_PER_TENANT + "=" + limit + " allows; delete one (DELETE"
                    + " /api/destinations/{id}) or ask the operator to raise " + WebhookSettings.MAX_PER_TENANT);
            this.limit = limit;
        }

        /** The cap in force. */
        public int limit() {
            return limit;
        }
    }

    /**
     * The destinations registry of this replica; logs at start what its settings open up.
     *
     * @param settings where webhooks may go from this replica: a replica whose settings forbid a destination's
     *     URL reports the destination as failed to build, naming the setting
     */
    public Destinations(
            Backplane backplane,
            DefinitionStore store,
            ClusterCalls calls,
            ObjectMapper json,
            Backoff backoff,
            WebhookSettings settings) {
        this.targets = new TargetPolicy(settings.allowedHosts(), settings.allowPrivate(), TargetPolicy.SYSTEM);
        this.maxPerTenant = settings.maxPerTenant();
        logSettings(settings);
        WebhookClient http = new WebhookClient(targets, WebhookClient.PLAIN, tls(), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
        Clock clock = Clock.systemUTC();
        DefinitionCodec<Destination> codec = DefinitionCodec.of(
                destination -> {
                    try {
                        return json.writeValueAsBytes(destination);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                },
                bytes -> {
                    try {
                        return json.readValue(bytes, Destination.class);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
        this.registry = ReplicatedRegistry.builder(backplane, REGISTRY, store, codec, (id, destination) -> {
                    DestinationKey key = DestinationKey.decode(id)
                            .filter(k -> k.tenant().equals(destination.tenant()))
                            .orElseThrow(() -> new IllegalStateException("registry id '" + id + "' is not <length>:"
                                    + destination.tenant() + ":<id> (an older version wrote it); delete it from"
                                    + " the definition store and create the destination again"));
                    String secret = destination.secret();
                    if (secret == null) {
                        throw new IllegalStateException("destination " + key.id() + " has no signing secret (it was"
                                + " created before webhooks were signed); delete it and create it again");
                    }
                    targets.checkUrl(destination.uri());
                    return new WebhookSender(id, destination, secret, backoff, http, clock);
                })
                .clusterCalls(calls)
                .build();
    }

    private static void logSettings(WebhookSettings settings) {
        if (settings.allowPrivate()) {
            LOG.warn(
                    "{}=true: webhooks from this replica may reach loopback, private, carrier-grade NAT and"
                            + " unique-local addresses, so any tenant's destination can POST to services on this"
                            + " replica's networks. Unset it unless every tenant is trusted; list single internal"
                            + " hosts in {} instead.",
                    WebhookSettings.ALLOW_PRIVATE,
                    WebhookSettings.HOSTS);
        }
        if (!settings.allowedHosts().isEmpty()) {
            LOG.info(
                    "Webhooks go only to the hosts in {} ({}), which may resolve to private addresses",
                    WebhookSettings.HOSTS,
                    String.join(",", settings.allowedHosts().stream().sorted().toList()));
        }
    }

    private static SSLSocketFactory tls() {
        try {
            return SSLContext.getDefault().getSocketFactory();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no default TLS context", e);
        }
    }

    /**
     * Stores a new destination of {@code tenant} with a new signing secret.
     *
     * @throws IllegalArgumentException when the URL is malformed or its target may not be reached, naming the fix
     * @throws IllegalStateException when the tenant's name is too long to be part of a registry id
     * @throws LimitReachedException when the tenant has as many destinations as the cap allows
     */
    public Created create(String tenant, String url, List<String> events) {
        if (tenant.length() > DestinationKey.MAX_TENANT) {
            throw new IllegalStateException("tenant '" + tenant + "' has a name of " + tenant.length()
                    + " characters, and destinations need one of at most " + DestinationKey.MAX_TENANT
                    + "; shorten it in CHORUS_CLIENTS");
        }
        Destination destination = new Destination(tenant, url, events, WebhookSignature.newSecret());
        targets.checkCreation(destination.uri());
        String id = UUID.randomUUID().toString();
        DestinationKey key = new DestinationKey(tenant, id);
        synchronized (createLock) {
            if (ids(tenant).size() >= maxPerTenant) {
                throw new LimitReachedException(tenant, maxPerTenant);
            }
            registry.put(key.encode(), destination);
        }
        return new Created(id, destination);
    }

    /** The destination {@code id} of {@code tenant}. */
    public Optional<Destination> get(String tenant, String id) {
        if (!ID.matcher(id).matches()) {
            return Optional.empty();
        }
        return registry.definition(statusId(tenant, id)).filter(d -> d.tenant().equals(tenant));
    }

    /** The ids of {@code tenant}'s destinations, and only of its. */
    public List<String> ids(String tenant) {
        return registry.ids().stream()
                .map(DestinationKey::decode)
                .flatMap(Optional::stream)
                .filter(key -> key.tenant().equals(tenant))
                .map(DestinationKey::id)
                .toList();
    }

    /** Deletes destination {@code id} of {@code tenant}; false when there was none. */
    public boolean delete(String tenant, String id) {
        return get(tenant, id).isPresent() && registry.delete(statusId(tenant, id));
    }

    /** This replica's status of destination {@code id}. */
    public Optional<ResourceStatus> status(String tenant, String id) {
        return get(tenant, id).flatMap(d -> registry.status(statusId(tenant, id)));
    }

    /** Every replica's status of the registry, gathered over the backplane. */
    public CompletableFuture<List<ReplicaStatus>> clusterStatus(Duration timeout) {
        return registry.clusterStatus(timeout);
    }

    /** The registry id of a destination, as cluster status reports it. */
    public static String statusId(String tenant, String id) {
        return new DestinationKey(tenant, id).encode();
    }

    /** Queues an event of {@code tenant} for every destination of that tenant that wants its type. */
    public void deliver(String tenant, String type, String key, byte[] body) {
        for (String id : registry.ids()) {
            boolean ours = DestinationKey.decode(id)
                    .map(k -> k.tenant().equals(tenant))
                    .orElse(false);
            if (!ours) {
                continue;
            }
            registry.resource(id).ifPresent(sender -> {
                if (sender.destination().tenant().equals(tenant)
                        && sender.destination().wants(type)) {
                    sender.offer(key, body);
                }
            });
        }
    }

    /** The registry, for health. */
    public ReplicatedRegistry<Destination, WebhookSender> registry() {
        return registry;
    }

    @Override
    public void close() {
        registry.close();
    }
}
