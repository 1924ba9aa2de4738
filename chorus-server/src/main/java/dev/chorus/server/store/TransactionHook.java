package dev.chorus.server.store;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Work a write runs inside its own database transaction, just before the commit: the server announces the
 * change there (an outbox row or a cache invalidation), so peers hear of it if and only if it commits.
 * Stores without a database transaction (in memory) never call it.
 */
@FunctionalInterface
public interface TransactionHook {

    /** Runs nothing. */
    TransactionHook NONE = transaction -> {};

    /**
     * Called on the writing connection, inside the transaction, after the write and only if the precondition held;
     * an exception rolls the write back. Use the connection for statements only: never commit, roll back, change
     * auto-commit or close it, the store does that.
     */
    void beforeCommit(Connection transaction) throws SQLException;
}
