/**
 * The automatic cluster check ({@link dev.chorus.verify.ClusterVerifier}): it asks every live replica over
 * {@link dev.chorus.cluster.ClusterCalls} and dispatches through {@link dev.chorus.sessions.Sessions}, so it
 * sits above both, leaving {@code dev.chorus.cluster} free to sit below sessions.
 */
@NullMarked
package dev.chorus.verify;

import org.jspecify.annotations.NullMarked;
