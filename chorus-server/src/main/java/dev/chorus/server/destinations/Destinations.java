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
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The webhook destinations of every tenant, as a {@link ReplicatedRegistry}: a destination is stored once,
 * every replica builds its own {@link WebhookSender} from it, and each replica POSTs the events of the
 * changes made through it. Ids are {@code <tenant>/<uuid>} in the registry; the API shows the uuid only.
 */
public final class Destinations implements AutoCloseable {

    /** The registry's name. */
    public static final String REGISTRY = "destinations";

    private final ReplicatedRegistry<Destination, WebhookSender> registry;
    private final ObjectMapper json;

    /** {@code CHORUS_WEBHOOK_HOSTS}: when set, the only hosts this replica sends webhooks to (comma-separated). */
    public static final String ALLOWED_HOSTS = "CHORUS_WEBHOOK_HOSTS";

    /**
     * The destinations registry of this replica.
     *
     * @param allowedHosts the hosts this replica may send to, empty for any: a replica whose network policy
     *     forbids a destination's host reports the destination as failed to build, naming the setting
     */
    public Destinations(
            Backplane backplane,
            DefinitionStore store,
            ClusterCalls calls,
            ObjectMapper json,
            Backoff backoff,
            Set<String> allowedHosts) {
        this.json = json;
        HttpClient http = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .build();
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
                    String host = destination.uri().getHost();
                    if (!allowedHosts.isEmpty() && !allowedHosts.contains(host)) {
                        throw new IllegalStateException("host '" + host + "' is not in " + ALLOWED_HOSTS
                                + " on this replica (" + String.join(",", allowedHosts) + ")");
                    }
                    return new WebhookSender(id, destination, backoff, http);
                })
                .clusterCalls(calls)
                .build();
    }

    private static String registryId(String tenant, String id) {
        return tenant + "/" + id;
    }

    /** Stores a new destination of {@code tenant}; its id. */
    public String create(Destination destination) {
        destination.uri();
        String id = UUID.randomUUID().toString();
        registry.put(registryId(destination.tenant(), id), destination);
        return id;
    }

    /** The destination {@code id} of {@code tenant}. */
    public Optional<Destination> get(String tenant, String id) {
        return registry.definition(registryId(tenant, id));
    }

    /** The ids of {@code tenant}'s destinations. */
    public List<String> ids(String tenant) {
        String prefix = tenant + "/";
        return registry.ids().stream()
                .filter(id -> id.startsWith(prefix))
                .map(id -> id.substring(prefix.length()))
                .toList();
    }

    /** Deletes destination {@code id} of {@code tenant}; false when there was none. */
    public boolean delete(String tenant, String id) {
        return get(tenant, id).isPresent() && registry.delete(registryId(tenant, id));
    }

    /** This replica's status of destination {@code id}. */
    public Optional<ResourceStatus> status(String tenant, String id) {
        return registry.status(registryId(tenant, id));
    }

    /** Every replica's status of the registry, gathered over the backplane. */
    public CompletableFuture<List<ReplicaStatus>> clusterStatus(Duration timeout) {
        return registry.clusterStatus(timeout);
    }

    /** The registry id of a destination, as cluster status reports it. */
    public static String statusId(String tenant, String id) {
        return registryId(tenant, id);
    }

    /** Queues an event of {@code tenant} for every destination of that tenant that wants its type. */
    public void deliver(String tenant, String type, String key, byte[] body) {
        String prefix = tenant + "/";
        for (String id : registry.ids()) {
            if (!id.startsWith(prefix)) {
                continue;
            }
            registry.resource(id).ifPresent(sender -> {
                if (sender.destination().wants(type)) {
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
