package dev.chorus.jgroups;

import dev.chorus.ReplicaId;
import dev.chorus.Subscription;
import dev.chorus.health.Health;
import dev.chorus.internal.SerialExecutor;
import dev.chorus.membership.Member;
import dev.chorus.membership.Membership;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jgroups.Address;
import org.jgroups.View;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * A view says who is connected; an announcement (a CONTROL envelope on _chorus.member, signed like every
 * envelope) says what each one is: name, version, start and attributes. A member is listed once it is in
 * the view AND announced. Everyone announces itself when the view gains members (joins and merges), so a
 * newcomer learns everyone within one round of messages.
 *
 * Leaving: close() announces BYE (others see LEFT at once); a member that drops out of the view without a
 * BYE is EXPIRED: JGroups tells only the coordinator about suspicions, so a missing goodbye is the signal.
 * lastHeartbeat is the last time the member was confirmed in a view or announced itself: JGroups' own
 * heartbeats (FD_ALL3) are not visible here, and a member stays listed exactly as long as the view holds it.
 */

/** Membership from JGroups views: joins, clean leaves and suspicions as Chorus membership events. */
public final class JGroupsMembership implements Membership {

    private static final Logger LOG = LoggerFactory.getLogger(JGroupsMembership.class);
    private static final byte HELLO = 1;
    private static final byte BYE = 2;
    private static final byte BYE_ACK = 3;
    /** A HELLO that asks everyone to announce themselves again: sent when a view member stays unannounced. */
    private static final byte HELLO_ASK = 4;

    private static final long REPAIR_INTERVAL_MILLIS = 500;

    private record Known(Member member, boolean announced) {}

    private final JGroupsBackplane backplane;
    private final Member self;
    private final Clock clock = Clock.systemUTC();
    private final SerialExecutor notifier = new SerialExecutor("chorus-membership");
    private final List<MembershipListener> listeners = new CopyOnWriteArrayList<>();
    private final Object lock = new Object();
    private final Map<UUID, Member> announced = new LinkedHashMap<>();
    private final Set<UUID> inView = new HashSet<>();
    private final Map<UUID, Member> listed = new LinkedHashMap<>();
    private final Set<UUID> departed = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Set<UUID> awaitingAck = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.CompletableFuture<Void> acked = new java.util.concurrent.CompletableFuture<>();
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean left;
    private volatile boolean closed;

    JGroupsMembership(
            JGroupsBackplane backplane,
            ReplicaId replica,
            String version,
            Instant started,
            Map<String, String> attributes) {
        this.backplane = backplane;
        this.self = new Member(replica, version, started, started, attributes);
        Thread.ofVirtual().name("chorus-jgroups-announcer").start(this::repairLoop);
    }

    /*
     * An announcement sent while the receiver has not yet installed the view that contains the sender (around
     * a merge, typically) is dropped by JGroups as coming from a non-member. Members in the view but still
     * unannounced after a moment are asked to announce themselves again.
     */
    private void repairLoop() {
        try {
            while (!stopped.await(REPAIR_INTERVAL_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                boolean missing;
                synchronized (lock) {
                    missing = !left
                            && inView.stream()
                                    .anyMatch(id -> !announced.containsKey(id)
                                            && !listed.containsKey(id)
                                            && !departed.contains(id));
                }
                if (missing) {
                    LOG.debug("Members in the view have not announced themselves; asking them again");
                    backplane.sendControl(encode(HELLO_ASK));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public Member self() {
        return self;
    }

    @Override
    public List<Member> members() {
        List<Member> all = new ArrayList<>();
        if (!left) {
            all.add(self);
        }
        synchronized (lock) {
            all.addAll(listed.values());
        }
        all.sort(Comparator.comparing(Member::started).thenComparing(m -> m.id().uuid()));
        return List.copyOf(all);
    }

    @Override
    public Subscription onChange(MembershipListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public Health health() {
        if (left || closed) {
            return Health.down("left the cluster");
        }
        View v = backplane.view();
        if (v == null) {
            return Health.degraded("not in a JGroups view yet");
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("view", v.getViewId().toString());
        details.put("members", liveCount());
        return Health.healthy(details);
    }

    /** Announces BYE: the others list this replica as LEFT at once; the backplane keeps running. */
    @Override
    public void close() {
        leave();
    }

    /**
     * Announces BYE; the future completes once every member in the view acknowledged it, so that when the
     * channel disconnects next, nobody mistakes the clean leave for a crash.
     */
    java.util.concurrent.CompletableFuture<Void> leave() {
        synchronized (lock) {
            if (left) {
                return acked;
            }
            left = true;
            awaitingAck.addAll(inView);
            if (awaitingAck.isEmpty()) {
                acked.complete(null);
            }
        }
        backplane.sendControl(encode(BYE));
        return acked;
    }

    void closed() {
        closed = true;
        stopped.countDown();
    }

    // ---- from the backplane ----

    /** Whether {@code address} announced a clean leave (BYE). */
    boolean saidGoodbye(Address address) {
        UUID id = uuidOf(address);
        return id != null && departed.contains(id);
    }

    void onView(View view, Set<Address> removed, Set<Address> excluded) {
        Instant now = clock.instant();
        boolean gained = false;
        synchronized (lock) {
            Set<UUID> members = new HashSet<>();
            for (Address a : view.getMembers()) {
                UUID id = uuidOf(a);
                if (id != null && !id.equals(self.id().uuid())) {
                    members.add(id);
                    if (!inView.contains(id)) {
                        gained = true;
                    }
                }
            }
            for (Address a : removed) {
                UUID id = uuidOf(a);
                if (id == null) {
                    continue;
                }
                inView.remove(id);
                announced.remove(id);
                if (awaitingAck.remove(id) && awaitingAck.isEmpty()) {
                    acked.complete(null);
                }
                Member gone = listed.remove(id);
                if (gone != null) {
                    LeaveReason reason = departed.contains(id) ? LeaveReason.LEFT : LeaveReason.EXPIRED;
                    notify(l -> l.onLeft(gone, reason));
                }
            }
            inView.clear();
            inView.addAll(members);
            for (UUID id : members) {
                Member m = listed.get(id);
                if (m != null) {
                    listed.put(id, touch(m, now));
                }
                promote(id);
            }
            departed.retainAll(members);
        }
        if (gained && !left) {
            backplane.sendControl(encode(HELLO));
        }
    }

    void onAnnouncement(ReplicaId origin, byte[] payload) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload))) {
            byte type = in.readByte();
            if (type == BYE_ACK) {
                UUID target = new UUID(in.readLong(), in.readLong());
                if (target.equals(self.id().uuid()) && awaitingAck.remove(origin.uuid()) && awaitingAck.isEmpty()) {
                    acked.complete(null);
                }
                return;
            }
            String version = in.readUTF();
            Instant started = Instant.ofEpochMilli(in.readLong());
            int count = in.readUnsignedShort();
            Map<String, String> attributes = new TreeMap<>();
            for (int i = 0; i < count; i++) {
                attributes.put(in.readUTF(), in.readUTF());
            }
            UUID id = origin.uuid();
            LOG.debug("Announcement {} from {}", type, origin);
            synchronized (lock) {
                if (type == BYE) {
                    backplane.sendControl(ack(id));
                    departed.add(id);
                    announced.remove(id);
                    Member gone = listed.remove(id);
                    if (gone != null) {
                        notify(l -> l.onLeft(gone, LeaveReason.LEFT));
                    }
                    return;
                }
                announced.put(id, new Member(origin, version, started, clock.instant(), attributes));
                promote(id);
                if (type == HELLO_ASK && !left) {
                    backplane.sendControl(encode(HELLO));
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("Dropped a malformed membership announcement from {}: {}", origin, e.toString());
        }
    }

    /** Under lock: lists {@code id} once it is both in the view and announced. */
    private void promote(UUID id) {
        Member m = announced.get(id);
        if (m == null || !inView.contains(id) || listed.containsKey(id)) {
            return;
        }
        listed.put(id, m);
        notify(l -> l.onJoined(m));
    }

    private static Member touch(Member m, Instant now) {
        return new Member(m.id(), m.version(), m.started(), now, m.attributes());
    }

    private static @Nullable UUID uuidOf(Address address) {
        if (address instanceof org.jgroups.util.UUID u) {
            return new UUID(u.getMostSignificantBits(), u.getLeastSignificantBits());
        }
        return null;
    }

    private static byte[] ack(UUID leaver) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(BYE_ACK);
            out.writeLong(leaver.getMostSignificantBits());
            out.writeLong(leaver.getLeastSignificantBits());
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory cannot fail", e);
        }
        return bytes.toByteArray();
    }

    private byte[] encode(byte type) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(type);
            out.writeUTF(self.version());
            out.writeLong(self.started().toEpochMilli());
            out.writeShort(self.attributes().size());
            for (Map.Entry<String, String> e : new TreeMap<>(self.attributes()).entrySet()) {
                out.writeUTF(e.getKey());
                out.writeUTF(e.getValue());
            }
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory cannot fail", e);
        }
        return bytes.toByteArray();
    }

    private void notify(java.util.function.Consumer<MembershipListener> event) {
        for (MembershipListener listener : listeners) {
            notifier.execute(() -> {
                try {
                    event.accept(listener);
                } catch (RuntimeException e) {
                    LOG.warn("Membership listener threw; ignored", e);
                }
            });
        }
    }
}
