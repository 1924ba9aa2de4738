/**
 * Test fixtures shared by every Chorus module: real PostgreSQL and Redis servers with per-test isolation, a raw RESP
 * client, a TCP proxy that injects network faults, and the compatibility kits that every transport must pass: {@link
 * dev.chorus.testkit.BackplaneCompatibilityKit}, {@link dev.chorus.testkit.MembershipCompatibilityKit} and {@link
 * dev.chorus.testkit.LeasesCompatibilityKit}.
 *
 * <p>Entry points: {@link dev.chorus.testkit.TestPostgres#server()}, {@link dev.chorus.testkit.TestRedis#server()} and
 * {@link dev.chorus.testkit.FaultProxy#start(String, int)}. Servers are resolved once per JVM, in this order: the URL in
 * {@code CHORUS_TEST_POSTGRES_URL} / {@code CHORUS_TEST_REDIS_URL}, a server on the default local port, an embedded
 * server. {@code CHORUS_TEST_EMBEDDED=true} skips straight to the embedded server. Each name is read as a system
 * property first, then as an environment variable.
 */
@NullMarked
package dev.chorus.testkit;

import org.jspecify.annotations.NullMarked;
