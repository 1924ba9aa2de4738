package dev.chorus.registry;

import java.util.Map;
import org.jspecify.annotations.Nullable;

/** A resource that counts what it does on this replica, for per-replica and cluster-wide status. */
public interface ResourceStatusSource {

    /** Counters since the resource was built, for example {@code delivered}, {@code failed}. */
    Map<String, Long> counters();

    /** The last error it met, or null. */
    default @Nullable String lastError() {
        return null;
    }
}
