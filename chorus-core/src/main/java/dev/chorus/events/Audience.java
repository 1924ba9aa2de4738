package dev.chorus.events;

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
        if (id == null || id.isBlank()) {
            throw new dev.chorus.ChorusException(name + " must not be blank");
        }
        return id;
    }

    @Override
    public String toString() {
        return kind == Kind.BROADCAST ? "everyone" : kind.name().toLowerCase(java.util.Locale.ROOT) + " " + target;
    }
}
