package dev.chorus.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Logs a repeated failure once at ERROR, its repeats at DEBUG and the recovery at INFO, so a dead server
 * produces one loud line and one recovery line instead of a line per retry (after Micrometer's
 * WarnThenDebugLogger).
 */
public final class FailureLog {

    private final Logger log;
    private final AtomicBoolean failing = new AtomicBoolean();

    /** Logs through {@code log}. */
    public FailureLog(Logger log) {
        this.log = log;
    }

    /** A failure: ERROR the first time since the last recovery, DEBUG afterwards. */
    public void failure(String message, @Nullable Throwable cause) {
        if (failing.compareAndSet(false, true)) {
            if (cause == null) {
                log.error(message);
            } else {
                log.error(message + ": " + describe(cause), cause);
            }
        } else if (log.isDebugEnabled()) {
            log.debug(message + (cause == null ? "" : ": " + describe(cause)), cause);
        }
    }

    /** A recovery: INFO if a failure was logged since the last recovery, nothing otherwise. */
    public void recovered(String message) {
        if (failing.compareAndSet(true, false)) {
            log.info(message);
        }
    }

    /** Whether a failure was logged and not yet followed by a recovery. */
    public boolean isFailing() {
        return failing.get();
    }

    /** A one-line description of a throwable and its root cause, for log messages. */
    public static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String head = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : " " + t.getMessage());
        if (root == t) {
            return head;
        }
        return head + " (caused by " + root.getClass().getSimpleName()
                + (root.getMessage() == null ? "" : " " + root.getMessage()) + ")";
    }
}
