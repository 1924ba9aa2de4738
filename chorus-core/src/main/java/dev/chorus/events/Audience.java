package dev.chorus.events;

import dev.chorus.ChorusException;
import java.util.Locale;
import java.util.Objects;

/** Which sinks an event is for: everyone, one user's, or one group's. */
record Audience(Kind kind, String target) {

    enum Kind {
        BROADCAST,
        USER,
        GROUP
    }

    static final Audience EVERYONE = new Audience(Kind.BROADCAST, "");

    static Audience user(String userId) {
        return new Audience(Kind.USER, requireId("userId", userId));
    }

    static Audience group(String groupId) {
        return new Audience(Kind.GROUP, requireId("groupId", groupId));
    }

    private static String requireId(String name, String id) {
        if (Objects.requireNonNull(id, name).isBlank()) {
            throw new ChorusException(name + " must not be blank: name the user or group the event is for");
        }
        return id;
    }

    @Override
    public String toString() {
        return kind == Kind.BROADCAST ? "everyone" : kind.name().toLowerCase(Locale.ROOT) + " " + target;
    }
}
