/**
 * The membership SPI: which replicas are live, with their version, start time, last heartbeat and
 * attributes. Entry point: {@link dev.chorus.membership.Membership}; the in-process implementation comes
 * from {@link dev.chorus.local.LocalCluster}.
 */
@NullMarked
package dev.chorus.membership;

import org.jspecify.annotations.NullMarked;
