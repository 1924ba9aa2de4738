package dev.chorus.events;

import dev.chorus.ReplicaId;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/*
 * What one replica knows of every hub's events: a bounded history in arrival order and, per origin hub,
 * how far it got. Not thread-safe: the hub calls it under its lock, which also orders sink queues.
 *
 * Invariants, per origin O:
 *  - last(O) is the highest sequence of O processed here (an event, or a position O announced). Events of
 *    O arrive in O's sequence order; a sequence at or below last(O) is a duplicate and is dropped.
 *  - floor(O) <= last(O), and the history holds every event of O with floor(O) < seq <= last(O). It rises
 *    when an event is evicted (to that event's seq), when a gap is found (to the seq before the next one
 *    that arrived, or to the position announced), and starts at the seq before the first one heard. An
 *    origin first heard past its start is reported as a gap too (the hub decides whether a sink could have
 *    wanted those events), but its floor stays FIRST_HEARD: they may as well predate this replica.
 *  - unconfirmed(O): the backplane reported possible loss and O has not yet shown (by its next sequence,
 *    or its announced position) whether anything went missing. Resumes needing O are refused meanwhile.
 *  - position() holds last(O) for every origin not retired. An origin is retired (dropped from ids, kept
 *    as a tombstone) once nothing of it is in the history and it has been silent for the history age.
 *
 * Resume from a cursor C is safe iff, for every origin O here, C[O] >= floor(O) (absent = 0) and O is
 * confirmed; then replaying the history's events with seq > C[O] in arrival order gives exactly what the
 * client has not considered. An origin in C that this replica never heard of cannot be checked: refused.
 */

/** History and per-origin positions of one replica's event hub. */
final class Ledger {

    /** One event as this replica processed it, with the position right after it. */
    record Entry(
            long origin, long seq, Audience audience, Event event, long arrivedMillis, Position position, String id) {}

    /**
     * Events {@code from}..{@code to} of {@code origin} will never arrive here. With {@code beforeFirstHeard}
     * they are the events before the first message heard of that hub: published before this replica
     * listened, or lost; the history's floor for them stays FIRST_HEARD, since nothing says which.
     */
    record Gap(long origin, ReplicaId replica, long from, long to, boolean beforeFirstHeard) {}

    /** The outcome of processing a received event: the entry (null for a duplicate), and a gap before it. */
    record Received(@Nullable Entry entry, @Nullable Gap gap) {}

    /** What a resume should do. */
    sealed interface Plan permits Replay, Refused {}

    /** Replay {@code entries}; the client had considered {@code cursor}. */
    record Replay(List<Entry> entries, EventIds.Cursor cursor) implements Plan {}

    /** Refuse with a reload signal. */
    record Refused(Reload.Reason reason, String detail) implements Plan {}

    private enum FloorCause {
        FIRST_HEARD,
        EVICTED,
        GAP
    }

    private static final int MAX_TOMBSTONES = 1024;

    private static final class Origin {
        final long key;
        final ReplicaId replica;
        long last;
        long floor;
        FloorCause floorCause = FloorCause.FIRST_HEARD;
        int entries;
        long heardMillis;
        boolean unconfirmed;
        boolean retired;

        Origin(long key, ReplicaId replica, long last, long heardMillis) {
            this.key = key;
            this.replica = replica;
            this.last = last;
            this.floor = last;
            this.heardMillis = heardMillis;
        }
    }

    private final long self;
    private final int maxEntries;
    private final long maxBytes;
    private final long maxAgeMillis;
    private final Clock clock;
    private final Map<Long, Origin> origins = new HashMap<>();
    private final ArrayDeque<Entry> history = new ArrayDeque<>();
    private Position position = Position.EMPTY;
    private long ownSeq;
    /** Data bytes of the events in the history. */
    private long bytes;
    /** Events evicted before their age because the history was full (by count or by bytes). */
    private long evictedEarly;

    Ledger(long self, ReplicaId selfReplica, int maxEntries, long maxAgeMillis, Clock clock) {
        this(self, selfReplica, maxEntries, Long.MAX_VALUE, maxAgeMillis, clock);
    }

    /** A ledger whose history holds at most {@code maxEntries} events and {@code maxBytes} bytes of data. */
    Ledger(long self, ReplicaId selfReplica, int maxEntries, long maxBytes, long maxAgeMillis, Clock clock) {
        this.self = self;
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.maxAgeMillis = maxAgeMillis;
        this.clock = clock;
        Origin own = new Origin(self, selfReplica, 0, clock.millis());
        origins.put(self, own);
        position = position.with(self, 0);
    }

    long self() {
        return self;
    }

    /** The last sequence this hub gave one of its own events. */
    long ownSeq() {
        return ownSeq;
    }

    /** The next sequence for an event of this hub; call {@link #own} with it or {@link #undoOwn}. */
    long nextOwnSeq() {
        return ++ownSeq;
    }

    /** The event with the sequence just taken was not published; give the number back. */
    void undoOwn() {
        ownSeq--;
    }

    /** Records this hub's own event with the sequence from {@link #nextOwnSeq}. */
    Entry own(long seq, Audience audience, Event event) {
        Origin origin = origins.get(self);
        return append(origin, seq, audience, event, clock.millis());
    }

    /** Records an event of another hub, detecting duplicates and gaps. */
    Received received(long key, ReplicaId replica, long seq, Audience audience, Event event) {
        long now = clock.millis();
        boolean known = origins.containsKey(key);
        Origin origin = heard(key, replica, seq - 1, now);
        if (seq <= origin.last) {
            return new Received(null, null);
        }
        Gap gap = null;
        if (!known && seq > 1) {
            gap = new Gap(key, replica, 1, seq - 1, true);
        } else if (seq > origin.last + 1) {
            gap = new Gap(key, replica, origin.last + 1, seq - 1, false);
            raiseFloor(origin, seq - 1, FloorCause.GAP);
        }
        origin.unconfirmed = false;
        return new Received(append(origin, seq, audience, event, now), gap);
    }

    /** Another hub announced that its last event has {@code seq}; a gap if some never arrived here. */
    @Nullable
    Gap announced(long key, ReplicaId replica, long seq) {
        boolean known = origins.containsKey(key);
        Origin origin = heard(key, replica, seq, clock.millis());
        if (!known) {
            // A new hub announces 0 (its SYNC comes before any event), so this costs nothing in steady state.
            return seq > 0 ? new Gap(key, replica, 1, seq, true) : null;
        }
        if (seq <= origin.last) {
            // Equal: nothing went missing since. Lower cannot happen in order and confirms nothing new.
            if (seq == origin.last) {
                origin.unconfirmed = false;
            }
            return null;
        }
        Gap gap = new Gap(key, replica, origin.last + 1, seq, false);
        origin.last = seq;
        raiseFloor(origin, seq, FloorCause.GAP);
        origin.unconfirmed = false;
        position = position.with(key, seq);
        return gap;
    }

    /**
     * The backplane may have lost messages of {@code replica} (null: of any replica). Their hubs stay
     * unconfirmed until they show their position; returns how many origins that concerns.
     */
    int suspect(@Nullable ReplicaId replica) {
        int count = 0;
        for (Origin origin : origins.values()) {
            if (origin.key != self && (replica == null || origin.replica.equals(replica))) {
                origin.unconfirmed = true;
                count++;
            }
        }
        return count;
    }

    private Origin heard(long key, ReplicaId replica, long lastIfNew, long now) {
        Origin origin = origins.get(key);
        if (origin == null) {
            origin = new Origin(key, replica, lastIfNew, now);
            origins.put(key, origin);
            position = position.with(key, lastIfNew);
        }
        origin.heardMillis = now;
        if (origin.retired) {
            origin.retired = false;
            position = position.with(key, origin.last);
        }
        return origin;
    }

    private Entry append(Origin origin, long seq, Audience audience, Event event, long now) {
        origin.last = seq;
        position = position.with(origin.key, seq);
        Entry entry = new Entry(origin.key, seq, audience, event, now, position, EventIds.encode(position, now));
        history.addLast(entry);
        bytes += event.size();
        origin.entries++;
        // An event larger than the whole byte bound is evicted at once: a resume from before it is refused.
        while (history.size() > maxEntries || bytes > maxBytes) {
            evictOldest();
            evictedEarly++;
        }
        evictAged(now);
        return entry;
    }

    private void evictAged(long now) {
        Entry oldest;
        while ((oldest = history.peekFirst()) != null && oldest.arrivedMillis() < now - maxAgeMillis) {
            evictOldest();
        }
    }

    private void evictOldest() {
        Entry evicted = history.pollFirst();
        if (evicted != null) {
            bytes -= evicted.event().size();
            Origin origin = origins.get(evicted.origin());
            origin.entries--;
            raiseFloor(origin, evicted.seq(), FloorCause.EVICTED);
        }
    }

    private static void raiseFloor(Origin origin, long floor, FloorCause cause) {
        if (floor > origin.floor) {
            origin.floor = floor;
            origin.floorCause = cause;
        }
    }

    /** Evicts aged events and retires origins silent for the history age with nothing left in the history. */
    void expire() {
        long now = clock.millis();
        evictAged(now);
        List<Origin> tombstones = new ArrayList<>();
        for (Origin origin : origins.values()) {
            if (origin.key == self) {
                continue;
            }
            if (!origin.retired && origin.entries == 0 && origin.heardMillis < now - maxAgeMillis) {
                origin.retired = true;
                position = position.without(origin.key);
            }
            if (origin.retired) {
                tombstones.add(origin);
            }
        }
        if (tombstones.size() > MAX_TOMBSTONES) {
            tombstones.sort((a, b) -> Long.compare(a.heardMillis, b.heardMillis));
            tombstones.subList(0, tombstones.size() - MAX_TOMBSTONES).forEach(o -> origins.remove(o.key));
        }
    }

    /** Where this replica stands: per origin not retired, the last sequence processed. */
    Position position() {
        return position;
    }

    /** Origins not retired, this hub included. */
    int activeOrigins() {
        return position.size();
    }

    int size() {
        return history.size();
    }

    /** Data bytes of the events in the history. */
    long bytes() {
        return bytes;
    }

    /** Events evicted before their age since start, to keep the count or byte bound. */
    long evictedEarly() {
        return evictedEarly;
    }

    /**
     * Plans a resume from {@code id} for a client that sees what {@code visible} accepts: the events it
     * missed in arrival order, or a refusal when they cannot all be known here or are more than
     * {@code maxReplay}.
     */
    Plan resume(String id, Predicate<Audience> visible, int maxReplay) {
        EventIds.Cursor cursor;
        try {
            cursor = EventIds.decode(id);
        } catch (EventIds.InvalidIdException e) {
            return new Refused(Reload.Reason.INVALID_ID, "Cannot resume: " + e.getMessage() + "; reload");
        }
        evictAged(clock.millis());
        Position from = cursor.position();
        for (int i = 0; i < from.size(); i++) {
            Origin origin = origins.get(from.origin(i));
            if (origin == null) {
                return new Refused(
                        Reload.Reason.UNKNOWN_ORIGIN,
                        "Cannot resume: the id names events of hub " + Long.toHexString(from.origin(i))
                                + ", which this replica never heard of (it stopped before this replica started,"
                                + " or the id is from another cluster); reload");
            }
            Refused refused = check(origin, from.seq(i), true);
            if (refused != null) {
                return refused;
            }
        }
        for (Origin origin : origins.values()) {
            if (from.contains(origin.key)) {
                continue;
            }
            if (origin.retired) {
                // Nothing of it is left here, and it fell silent a history age ago: if the id was issued
                // after that, its holder had nothing more of it to see; if before, it is too old.
                if (cursor.issuedMillis() < origin.heardMillis) {
                    return new Refused(
                            Reload.Reason.HISTORY_TOO_SHORT,
                            "Cannot resume: the id predates events of hub " + Long.toHexString(origin.key)
                                    + " that are no longer kept; reload");
                }
                continue;
            }
            Refused refused = check(origin, 0, false);
            if (refused != null) {
                return refused;
            }
        }
        List<Entry> replay = new ArrayList<>();
        for (Entry entry : history) {
            if (entry.seq() > from.get(entry.origin()) && visible.test(entry.audience())) {
                if (replay.size() == maxReplay) {
                    return new Refused(
                            Reload.Reason.TOO_MANY_MISSED,
                            "Cannot resume: more than " + maxReplay + " events were missed, more than the"
                                    + " client's queue holds; reload");
                }
                replay.add(entry);
            }
        }
        return new Replay(List.copyOf(replay), cursor);
    }

    private static @Nullable Refused check(Origin origin, long considered, boolean named) {
        String hub = "hub " + Long.toHexString(origin.key) + " on " + origin.replica.shortForm();
        if (origin.unconfirmed) {
            return new Refused(
                    Reload.Reason.LOSS_DETECTED,
                    "Cannot resume: events of " + hub + " may have been lost between replicas and this replica"
                            + " has not yet confirmed which; reload");
        }
        if (considered >= origin.floor) {
            return null;
        }
        String since = named ? "after event " + considered : "from its first event";
        return switch (origin.floorCause) {
            case GAP ->
                new Refused(
                        Reload.Reason.LOSS_DETECTED,
                        "Cannot resume: events of " + hub + " " + since + " were lost between replicas; reload");
            case EVICTED, FIRST_HEARD ->
                new Refused(
                        Reload.Reason.HISTORY_TOO_SHORT,
                        "Cannot resume: this replica's history of " + hub + " starts after event " + origin.floor
                                + ", the id needs it " + since + "; reload");
        };
    }
}
