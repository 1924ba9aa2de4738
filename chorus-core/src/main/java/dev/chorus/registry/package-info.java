/**
 * Definitions stored once and materialised on every replica as a local resource, with per-replica and
 * cluster-wide status: {@link dev.chorus.registry.ReplicatedRegistry}.
 */
@NullMarked
package dev.chorus.registry;

import org.jspecify.annotations.NullMarked;
