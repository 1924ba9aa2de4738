package dev.chorus.membership;

/**
 * Hears replicas join and leave.
 *
 * <p>Called on a Chorus notification thread (virtual, named {@code chorus-membership}), never on a
 * transport's I/O thread, one event at a time and in order. Exceptions are logged and ignored.
 */
public interface MembershipListener {

    /** A replica became live. */
    default void onJoined(Member member) {}

    /** A replica is no longer live, and why. */
    default void onLeft(Member member, LeaveReason reason) {}

    /** Why a replica left. */
    enum LeaveReason {
        /** It said goodbye: a clean shutdown. */
        LEFT,
        /** Its heartbeats stopped for longer than the expiry: it crashed, hangs or is cut off. */
        EXPIRED
    }
}
