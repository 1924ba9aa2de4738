package dev.chorus.verify;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The answer to an operator's questions about the cluster, one {@link Check} per question.
 *
 * @param passed whether every check passed
 * @param checks the checks, in a fixed order: members, backplane, dispatch, max-instances
 * @param at when the verification ran
 */
public record VerifyReport(boolean passed, List<Check> checks, Instant at) {

    /** Copies the list. */
    public VerifyReport {
        checks = List.copyOf(checks);
    }

    /**
     * One check.
     *
     * @param name {@code members}, {@code backplane}, {@code dispatch} or {@code max-instances}
     * @param passed whether it passed
     * @param detail a sentence for the operator: what was found, and who is at fault when it failed
     * @param data small values for dashboards (counts, per-member round trips)
     */
    public record Check(String name, boolean passed, String detail, Map<String, Object> data) {

        /** Copies the data. */
        public Check {
            data = Map.copyOf(data);
        }
    }

    /** The check named {@code name}. */
    public Check check(String name) {
        return checks.stream()
                .filter(c -> c.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no check named " + name));
    }
}
