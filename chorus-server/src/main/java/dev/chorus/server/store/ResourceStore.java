package dev.chorus.server.store;

import dev.chorus.health.HealthIndicator;
import java.util.Optional;

/**
 * Where resources live. Every method is safe from many threads; each write is atomic: it either happens
 * whole, with its {@link TransactionHook}, or changes nothing.
 */
public interface ResourceStore extends HealthIndicator, AutoCloseable {

    /** {@code memory} or {@code postgres}: what health and the startup log show. */
    String kind();

    /** Whether this store runs writes in database transactions (and so calls their hooks). */
    boolean transactional();

    /** The resource, or empty when absent. */
    Optional<Resource> get(ResourceKey key);

    /**
     * Stores {@code body} (a JSON document the caller validated) under {@code key} if {@code precondition}
     * holds, as version 1 when the key was never written or the next version otherwise (after a delete too),
     * running {@code hook} inside the transaction.
     *
     * @throws PreconditionFailedException when the precondition does not hold; nothing changed
     */
    Resource put(ResourceKey key, byte[] body, Precondition precondition, TransactionHook hook);

    /**
     * Deletes the resource if {@code precondition} holds, running {@code hook} inside the transaction. Deleting an
     * absent resource changes nothing and does not call {@code hook}. The key's version is remembered, so a resource
     * created again under it continues from the last version and an entity tag never names two bodies of one key.
     *
     * @return the deleted resource, or empty when there was none (and {@code precondition} allowed that)
     * @throws PreconditionFailedException when the precondition does not hold; nothing changed
     */
    Optional<Resource> delete(ResourceKey key, Precondition precondition, TransactionHook hook);

    @Override
    void close();
}
