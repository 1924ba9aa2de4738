package dev.chorus.sessions;

import dev.chorus.internal.SerialExecutor;
import dev.chorus.leases.Lease;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A session this replica holds: its id, its fencing token and the lease behind it. Closing it releases the
 * lease; a newer claim elsewhere or a lease that cannot be renewed ends it on its own.
 */
public final class Session implements AutoCloseable {

    /** Why a session ended on this replica. */
    public enum EndReason {
        /** This replica closed it (the client disconnected). */
        CLOSED,
        /** A newer claim for the same id won, on another replica or this one: the client reconnected. */
        SUPERSEDED,
        /** The lease could not be renewed before its deadline (store unreachable, or taken over): fail closed. */
        LEASE_LOST,
        /** The replica is shutting down. */
        DRAINED
    }

    private final String id;
    private final SessionHandler handler;
    private final Sessions owner;
    final SerialExecutor executor;
    private volatile Lease lease;
    private final AtomicReference<@Nullable EndReason> ended = new AtomicReference<>();
    volatile boolean renewing;
    volatile long nextRenewAt;

    Session(String id, Lease lease, SessionHandler handler, Sessions owner, long nextRenewAt) {
        this.id = id;
        this.lease = lease;
        this.handler = handler;
        this.owner = owner;
        this.nextRenewAt = nextRenewAt;
        this.executor = new SerialExecutor("chorus-session");
    }

    /** The session id, as the client knows it. */
    public String id() {
        return id;
    }

    /** The fencing token of this claim; larger than that of every earlier claim of the id. */
    public long token() {
        return lease.token();
    }

    /** The current lease. */
    public Lease lease() {
        return lease;
    }

    /** Whether this replica may act for the session now: not ended and the lease deadline not passed. */
    public boolean isActive() {
        return ended.get() == null && lease.isValid();
    }

    /** Why it ended, or null while it lives. */
    public @Nullable EndReason endReason() {
        return ended.get();
    }

    SessionHandler handler() {
        return handler;
    }

    void renewed(Lease renewed) {
        this.lease = renewed;
    }

    /** Marks the session ended; true for the first caller only. */
    boolean end(EndReason why) {
        return ended.compareAndSet(null, why);
    }

    /** Ends the session here and releases its lease so another replica can claim it at once. Idempotent. */
    @Override
    public void close() {
        owner.end(this, EndReason.CLOSED, "closed by this replica");
    }

    @Override
    public String toString() {
        return "Session{" + id + " token=" + lease.token() + (ended.get() == null ? "" : " ended=" + ended.get()) + "}";
    }
}
