/**
 * Questions asked of every live replica over the backplane ({@link dev.chorus.cluster.ClusterCalls}) and
 * the automatic cluster check built on them ({@link dev.chorus.cluster.ClusterVerifier}).
 */
@NullMarked
package dev.chorus.cluster;

import org.jspecify.annotations.NullMarked;
