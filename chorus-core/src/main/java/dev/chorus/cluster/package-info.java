/**
 * Questions asked of every live replica over the backplane ({@link dev.chorus.cluster.ClusterCalls}). The
 * cluster check built on them is in {@code dev.chorus.verify}.
 */
@NullMarked
package dev.chorus.cluster;

import org.jspecify.annotations.NullMarked;
