package dev.chorus.local;

import dev.chorus.ReplicaId;
import dev.chorus.membership.Member;
import dev.chorus.membership.MembershipListener;
import dev.chorus.membership.MembershipListener.LeaveReason;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** The shared member list of one {@link LocalCluster}; every replica's membership reads it. */
final class LocalMembershipHub {

    private final Clock clock;
    private final Map<ReplicaId, Member> members = new LinkedHashMap<>();
    private final List<LocalMembership> views = new CopyOnWriteArrayList<>();

    LocalMembershipHub(Clock clock) {
        this.clock = clock;
    }

    synchronized List<Member> members() {
        List<Member> live = new ArrayList<>();
        for (Member member : members.values()) {
            live.add(new Member(member.id(), member.version(), member.started(), clock.instant(), member.attributes()));
        }
        live.sort(Comparator.comparing(Member::started));
        return live;
    }

    void join(Member member) {
        synchronized (this) {
            members.put(member.id(), member);
        }
        notifyViews(listener -> listener.onJoined(member), member.id());
    }

    void leave(ReplicaId id, LeaveReason reason) {
        Member gone;
        synchronized (this) {
            gone = members.remove(id);
        }
        if (gone != null) {
            notifyViews(listener -> listener.onLeft(gone, reason), id);
        }
    }

    void register(LocalMembership view) {
        views.add(view);
    }

    void unregister(LocalMembership view) {
        views.remove(view);
    }

    private void notifyViews(Consumer<MembershipListener> event, ReplicaId subject) {
        for (LocalMembership view : views) {
            if (!view.self().id().equals(subject)) {
                view.dispatch(event);
            }
        }
    }
}
