package dev.chorus.leases;

import dev.chorus.ChorusException;

/** A lease can no longer be renewed: it expired or was taken over. The holder must stop acting under it. */
public final class LeaseLostException extends ChorusException {

    private final String key;
    private final long token;

    /** The lease on {@code key} with {@code token} is lost for the reason in {@code message}. */
    public LeaseLostException(String key, long token, String message) {
        super("Lease on '" + key + "' with token " + token + " is lost: " + message + "; stop acting for this key now");
        this.key = key;
        this.token = token;
    }

    /** The key whose lease was lost. */
    public String key() {
        return key;
    }

    /** The token of the lost lease. */
    public long token() {
        return token;
    }
}
