package dev.chorus.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Two replicas of one near cache in front of a shared source of truth, as the {@code cache-propagation}
 * scenario drives them: writes go through replica A, reads through replica B's cache.
 *
 * <p>{@link #write} is called from one writer thread; {@link #read} from one observer thread and, once just
 * before each write, from the writer thread.
 */
interface PropagationSubject extends AutoCloseable {

    /** The variant name in the results table. */
    String name();

    /** Called by the writer thread as a timed phase starts, before its first write. */
    default void startPhase() {}

    /**
     * Short remarks on how this subject is set up and what it did since {@link #startPhase}, for the row's
     * notes; may be empty.
     */
    default String notes() {
        return "";
    }

    /**
     * The keys to rotate over, {@code count} of them. A subject may pick keys with a property the
     * measurement needs (Hazelcast: keys whose partition A owns).
     */
    default List<String> keys(int count) {
        List<String> keys = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            keys.add("key-" + i);
        }
        return keys;
    }

    /**
     * On replica A: stores {@code version} under {@code key} in the source of truth and lets the product's
     * own mechanism invalidate the other replicas' caches.
     */
    void write(String key, long version);

    /** On replica B, through its cache: the version stored under {@code key}, or -1 when there is none. */
    long read(String key);

    /** Shuts both replicas down and removes what the subject stored on a shared server. */
    @Override
    void close();
}
