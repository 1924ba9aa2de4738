package dev.chorus.registry;

import java.util.List;
import java.util.Optional;

/**
 * Where a registry's definitions live: the source of truth every replica reconciles against. PostgreSQL
 * ({@code PostgresDefinitionStore} in chorus-postgres) for a cluster; {@link InMemoryDefinitionStore} for one
 * replica or tests. Calls may block on I/O; they throw {@link dev.chorus.ChorusException} when the store
 * cannot be reached.
 */
public interface DefinitionStore {

    /** Every definition of {@code registry}. */
    List<StoredDefinition> loadAll(String registry);

    /** One definition, if it exists. */
    Optional<StoredDefinition> load(String registry, String id);

    /** Creates or replaces a definition with a new, larger version and returns what was stored. */
    StoredDefinition save(String registry, String id, byte[] body);

    /** Deletes a definition; false when there was none. */
    boolean delete(String registry, String id);
}
