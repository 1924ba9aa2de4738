package dev.chorus.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.ReplicaId;
import dev.chorus.backplane.Backplane;
import dev.chorus.backplane.TransactionalBackplane;
import dev.chorus.cache.PendingInvalidation;
import dev.chorus.cache.ReplicatedCache;
import dev.chorus.events.Event;
import dev.chorus.events.EventHub;
import dev.chorus.server.destinations.Destinations;
import dev.chorus.server.store.Precondition;
import dev.chorus.server.store.Resource;
import dev.chorus.server.store.ResourceKey;
import dev.chorus.server.store.ResourceStore;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resources as the API serves them: reads through the replicated cache, writes to the store that invalidate
 * the cache on every replica when (and only when) they commit, and an event to the tenant for every change.
 */
public final class ResourceService {

    /** Event type of a created or replaced resource. */
    public static final String CHANGED = "resource.changed";
    /** Event type of a deleted resource. */
    public static final String DELETED = "resource.deleted";

    private static final Logger LOG = LoggerFactory.getLogger(ResourceService.class);

    private final ResourceStore store;
    private final ReplicatedCache<String, Resource> cache;
    private final EventHub hub;
    private final ReplicaId self;
    private final ObjectMapper json;
    private final boolean invalidateInTransaction;
    private final Destinations destinations;

    ResourceService(
            ResourceStore store,
            ReplicatedCache<String, Resource> cache,
            EventHub hub,
            Backplane backplane,
            ObjectMapper json,
            Destinations destinations) {
        this.store = store;
        this.cache = cache;
        this.hub = hub;
        this.self = backplane.replica();
        this.json = json;
        this.destinations = destinations;
        // Only a backplane that can write inside the storing transaction makes "peers hear of it if and only if
        // it commits" hold even when this replica dies right after the commit.
        this.invalidateInTransaction = store.transactional() && backplane instanceof TransactionalBackplane;
    }

    /** Whether writes announce their invalidation inside the storing transaction (else right after commit). */
    public boolean invalidatesInTransaction() {
        return invalidateInTransaction;
    }

    /** The resource, through the cache unless {@code bypassCache}. */
    public Optional<Resource> get(ResourceKey key, boolean bypassCache) {
        if (bypassCache) {
            return store.get(key);
        }
        return Optional.ofNullable(cache.get(key.cacheKey(), k -> store.get(key).orElse(null)));
    }

    /** Stores {@code body} if {@code precondition} holds; see {@link ResourceStore#put}. */
    public Resource put(ResourceKey key, byte[] body, Precondition precondition) {
        Resource stored;
        if (invalidateInTransaction) {
            stored = store.put(key, body, precondition, tx -> cache.invalidate(tx, key.cacheKey()));
        } else {
            try (PendingInvalidation pending = cache.invalidateOnCommit(key.cacheKey())) {
                stored = store.put(key, body, precondition, tx -> {});
                pending.committed();
            }
        }
        announce(CHANGED, stored);
        return stored;
    }

    /** Deletes the resource if {@code precondition} holds; see {@link ResourceStore#delete}. */
    public Optional<Resource> delete(ResourceKey key, Precondition precondition) {
        Optional<Resource> deleted;
        if (invalidateInTransaction) {
            deleted = store.delete(key, precondition, tx -> cache.invalidate(tx, key.cacheKey()));
        } else {
            try (PendingInvalidation pending = cache.invalidateOnCommit(key.cacheKey())) {
                deleted = store.delete(key, precondition, tx -> {});
                pending.committed();
            }
        }
        deleted.ifPresent(resource -> announce(DELETED, resource));
        return deleted;
    }

    private void announce(String type, Resource resource) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("type", resource.key().type());
        data.put("id", resource.key().id());
        data.put("version", resource.version());
        data.put("replica", self.toString());
        String tenant = resource.key().tenant();
        try {
            // Webhooks go from the replica that made the change; the key lets receivers drop a retried copy.
            Map<String, Object> webhook = new LinkedHashMap<>();
            webhook.put("event", type);
            webhook.put("tenant", tenant);
            webhook.put("data", data);
            destinations.deliver(
                    tenant,
                    type,
                    type + ":" + resource.key().cacheKey() + "@" + resource.version(),
                    json.writeValueAsBytes(webhook));
        } catch (Exception e) {
            LOG.warn("Change of {} committed, but its webhooks could not be queued: {}", resource.key(), e.toString());
        }
        try {
            hub.toTenant(tenant, new Event(type, json.writeValueAsBytes(data))).exceptionally(e -> {
                // Local clients have it; the others get a reload signal from their hub's gap detection.
                LOG.debug("Event {} for {} did not reach the other replicas: {}", type, resource.key(), e.toString());
                return null;
            });
        } catch (Exception e) {
            // The change is committed; an event that cannot be sent must not turn it into an error.
            LOG.warn("Change of {} committed, but its event could not be published: {}", resource.key(), e.toString());
        }
    }
}
