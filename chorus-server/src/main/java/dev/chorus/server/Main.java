package dev.chorus.server;

/** Starts one Chorus replica from the environment; see {@code docs/server.md}. */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        throw new UnsupportedOperationException("not yet");
    }
}
