/**
 * The leases SPI: exclusive, expiring ownership of a key with fencing tokens that only grow. Entry point:
 * {@link dev.chorus.leases.Leases}; the in-process implementation comes from {@link
 * dev.chorus.local.LocalCluster}.
 */
@NullMarked
package dev.chorus.leases;

import org.jspecify.annotations.NullMarked;
