package dev.chorus.server.store;

/** What a write requires of the current state (from {@code If-Match} / {@code If-None-Match}). */
public sealed interface Precondition {

    /** No requirement: create or overwrite. */
    Precondition NONE = new None();
    /** The resource must not exist ({@code If-None-Match: *}). */
    Precondition ABSENT = new Absent();
    /** The resource must exist, whatever its version ({@code If-Match: *}). */
    Precondition PRESENT = new Present();

    /** The resource must exist at exactly this version ({@code If-Match: "n"}). */
    static Precondition version(long version) {
        return new Version(version);
    }

    /** No requirement. */
    record None() implements Precondition {}

    /** Must not exist. */
    record Absent() implements Precondition {}

    /** Must exist. */
    record Present() implements Precondition {}

    /** Must exist at this version. */
    record Version(long version) implements Precondition {}
}
