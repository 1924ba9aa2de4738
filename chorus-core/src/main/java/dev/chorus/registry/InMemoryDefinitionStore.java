package dev.chorus.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Definitions in this JVM's memory: for a single replica (they are lost at restart) and for tests, where
 * several in-process replicas can share one instance as they would share a database.
 */
public final class InMemoryDefinitionStore implements DefinitionStore {

    private final Map<String, Map<String, StoredDefinition>> registries = new ConcurrentHashMap<>();
    private final AtomicLong versions = new AtomicLong();

    private Map<String, StoredDefinition> registry(String name) {
        return registries.computeIfAbsent(name, n -> new ConcurrentHashMap<>());
    }

    @Override
    public List<StoredDefinition> loadAll(String registry) {
        return new ArrayList<>(registry(registry).values());
    }

    @Override
    public Optional<StoredDefinition> load(String registry, String id) {
        return Optional.ofNullable(registry(registry).get(id));
    }

    @Override
    public StoredDefinition save(String registry, String id, byte[] body) {
        byte[] copy = body.clone();
        // The version is drawn inside the map's atomic step, so the last save to land has the largest one.
        return registry(registry).compute(id, (key, old) -> new StoredDefinition(id, versions.incrementAndGet(), copy));
    }

    @Override
    public boolean delete(String registry, String id) {
        return registry(registry).remove(id) != null;
    }
}
