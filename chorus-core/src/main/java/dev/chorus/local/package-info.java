/**
 * The in-process transport: the embedded default for one replica, and {@link
 * dev.chorus.local.LocalCluster}, which runs several replicas in one JVM with a backplane, membership and
 * leases each, and can isolate, heal, crash and drop messages to test how features repair.
 */
@NullMarked
package dev.chorus.local;

import org.jspecify.annotations.NullMarked;
