package dev.chorus.server.store;

import dev.chorus.ChorusException;
import org.jspecify.annotations.Nullable;

/** A write whose {@link Precondition} did not hold; nothing was changed. HTTP 412. */
public final class PreconditionFailedException extends ChorusException {

    private static final long serialVersionUID = 1L;

    private final transient @Nullable Resource current;

    public PreconditionFailedException(ResourceKey key, Precondition required, @Nullable Resource current) {
        super("Resource " + key.type() + "/" + key.id() + " is "
                + (current == null ? "absent" : "at version " + current.version()) + ", the request required "
                + describe(required));
        this.current = current;
    }

    /** The resource as it is now, or null when absent. */
    public @Nullable Resource current() {
        return current;
    }

    private static String describe(Precondition precondition) {
        return switch (precondition) {
            case Precondition.None none -> "nothing";
            case Precondition.Absent absent -> "that it does not exist";
            case Precondition.Present present -> "that it exists";
            case Precondition.Version version -> "version " + version.version();
        };
    }
}
