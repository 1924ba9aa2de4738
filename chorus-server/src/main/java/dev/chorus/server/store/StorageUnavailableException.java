package dev.chorus.server.store;

import dev.chorus.ChorusException;

/**
 * Storage could not be reached or had no connection to spare: the client should retry. HTTP 503 with
 * {@code Retry-After}. {@link #outcomeUnknown()} says whether a write may have happened all the same (the
 * link broke during its COMMIT): the client then reads the resource, or retries with {@code If-Match}.
 */
public final class StorageUnavailableException extends ChorusException {

    private static final long serialVersionUID = 1L;

    private final boolean outcomeUnknown;

    public StorageUnavailableException(String message, boolean outcomeUnknown, Throwable cause) {
        super(message, cause);
        this.outcomeUnknown = outcomeUnknown;
    }

    /** Whether the write may have been made: the failure came during its commit. */
    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }
}
