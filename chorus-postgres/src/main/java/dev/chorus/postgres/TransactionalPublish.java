package dev.chorus.postgres;

/**
 * How {@link PostgresBackplane#publish(java.sql.Connection, dev.chorus.backplane.Message)} ties a message to
 * the caller's transaction.
 */
public enum TransactionalPublish {
    /**
     * The default: an outbox row is written in the caller's transaction; after commit a relay deletes it and
     * sends its notification in one transaction of its own. Costs one small INSERT in the caller's
     * transaction and never takes NOTIFY's database-wide commit lock there.
     */
    OUTBOX,
    /**
     * {@code pg_notify} on the caller's connection: lowest latency, but NOTIFY takes a database-wide lock at
     * commit, held through the WAL flush, which serialises every notifying transaction (measured: 16 writers
     * fell to 0.38x of their throughput). The envelope is unsequenced: receivers cannot detect its loss by
     * sequence, only by a reconnect.
     */
    NOTIFY_IN_TRANSACTION
}
