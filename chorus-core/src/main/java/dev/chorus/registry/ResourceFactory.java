package dev.chorus.registry;

/**
 * Builds this replica's resource from a definition (a webhook sender from a destination, a producer from
 * a topic). A resource that is {@link AutoCloseable} is closed when its definition changes or goes; one
 * that is {@link ResourceStatusSource} reports counters.
 *
 * @param <D> the definition type
 * @param <R> the resource type
 */
@FunctionalInterface
public interface ResourceFactory<D, R> {

    /**
     * The resource for definition {@code id}; throwing reports the definition as failed on this replica,
     * with the exception's message, until a later version builds.
     */
    R create(String id, D definition) throws Exception;
}
