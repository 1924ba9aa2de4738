package dev.chorus.events;

import java.util.Map;

/**
 * Counters of one hub since it started.
 *
 * @param published events this replica published
 * @param received events that arrived from other replicas
 * @param delivered events handed to sinks (one per sink)
 * @param dropped events queued for a sink but never handed to it, per reason
 * @param queueHighWaterMark the deepest any sink's queue has been
 * @param resumesServed resumes that replayed what the client missed (possibly nothing)
 * @param resumesRefused resumes answered with a reload signal
 * @param reloadsSent reload signals sent to sinks, resume refusals included
 * @param gapsDetected times events from another replica were found missing or possibly missing
 * @param rejected backplane messages on the hub's topic that were not valid hub messages
 * @param sinkErrors exceptions thrown by sinks
 * @param sinks sinks registered now
 * @param origins hubs (this one included) whose position this replica tracks now
 * @param historyEvents events kept for resumes now
 * @param historyBytes bytes of event data kept for resumes now
 * @param historyEvicted events dropped from the history before their age, to keep its count or byte bound
 */
public record EventHubStats(
        long published,
        long received,
        long delivered,
        Map<DropReason, Long> dropped,
        long queueHighWaterMark,
        long resumesServed,
        long resumesRefused,
        long reloadsSent,
        long gapsDetected,
        long rejected,
        long sinkErrors,
        int sinks,
        int origins,
        int historyEvents,
        long historyBytes,
        long historyEvicted) {

    /** Copies the drop counts. */
    public EventHubStats {
        dropped = Map.copyOf(dropped);
    }

    /** Drops for {@code reason}, 0 when none. */
    public long dropped(DropReason reason) {
        return dropped.getOrDefault(reason, 0L);
    }
}
