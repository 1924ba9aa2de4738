package dev.chorus.server.store;

import org.jspecify.annotations.Nullable;

/** The one rule every store applies to decide whether a {@link Precondition} holds. */
final class Preconditions {

    private Preconditions() {}

    /**
     * Returns normally when {@code required} holds for {@code current} (null when absent, tombstones included).
     *
     * @throws PreconditionFailedException carrying {@code current} otherwise
     */
    static void check(ResourceKey key, Precondition required, @Nullable Resource current) {
        boolean holds = switch (required) {
            case Precondition.None none -> true;
            case Precondition.Absent absent -> current == null;
            case Precondition.Present present -> current != null;
            case Precondition.Version version -> current != null && current.version() == version.version();
        };
        if (!holds) {
            throw new PreconditionFailedException(key, required, current);
        }
    }
}
