package dev.chorus.leases;

import dev.chorus.ChorusException;

/** A lease store could not run an operation (unreachable, timed out, bad state); names the operation and key. */
public final class LeaseStoreException extends ChorusException {

    private final String operation;
    private final String key;

    /** The {@code operation} on {@code key} failed for the reason in {@code message}. */
    public LeaseStoreException(String operation, String key, String message, Throwable cause) {
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
