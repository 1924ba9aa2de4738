package dev.chorus.testkit;

/** Where a test server came from, in the order the testkit tries them. */
public enum ServerSource {
    /** The URL named by a {@code CHORUS_TEST_*_URL} system property or environment variable. */
    CONFIGURED,
    /** A server already listening on the default port of 127.0.0.1. */
    LOCAL,
    /** A server process the testkit started itself and stops when the JVM exits. */
    EMBEDDED
}
