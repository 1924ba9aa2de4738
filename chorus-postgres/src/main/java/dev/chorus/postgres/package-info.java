/**
 * Chorus on PostgreSQL: {@link dev.chorus.postgres.PostgresBackplane} (LISTEN/NOTIFY with publishing tied to
 * the caller's transaction), {@link dev.chorus.postgres.PostgresMembership} (heartbeat rows) and {@link
 * dev.chorus.postgres.PostgresLeases} (fencing tokens from a sequence). They share one {@link
 * dev.chorus.postgres.PostgresDatabase}: the connection target, a small pool and the schema.
 */
@NullMarked
package dev.chorus.postgres;

import org.jspecify.annotations.NullMarked;
