package dev.chorus.cache;

/**
 * An invalidation waiting for the caller's transaction to commit, for stores and backplanes that cannot tie
 * a message to the transaction themselves.
 *
 * <pre>{@code
 * try (PendingInvalidation pending = cache.invalidateOnCommit(key)) {
 *     store.update(tx, key, value);
 *     tx.commit();
 *     pending.committed();
 * } // not committed: nothing is announced
 * }</pre>
 *
 * <p>The key is dropped from this replica's cache when the pending invalidation is created and again on
 * {@link #committed()}, which announces it to the other replicas. If the process dies between the commit
 * and {@link #committed()}, the other replicas never hear of the change; a {@link
 * dev.chorus.backplane.TransactionalBackplane} with {@link ReplicatedCache#invalidate(java.sql.Connection,
 * Object)} has no such window.
 */
public interface PendingInvalidation extends AutoCloseable {

    /** The change committed: invalidate the keys here and announce them to every replica. Idempotent. */
    void committed();

    /** Without {@link #committed()} first, the change is taken as rolled back and nothing is announced. */
    @Override
    void close();
}
