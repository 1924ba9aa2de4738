package dev.chorus.postgres;

import dev.chorus.ChorusException;

/** A lease statement failed in PostgreSQL (unreachable, timed out, schema missing); names the operation and key. */
public final class PostgresLeaseException extends ChorusException {

    private final String operation;
    private final String key;

    PostgresLeaseException(String operation, String key, String message, Throwable cause) {
        super(message, cause);
        this.operation = operation;
        this.key = key;
    }

    /** The operation that failed: {@code tryAcquire}, {@code claim}, {@code renew}, {@code release} or {@code owner}. */
    public String operation() {
        return operation;
    }

    /** The lease key the operation was for. */
    public String key() {
        return key;
    }
}
