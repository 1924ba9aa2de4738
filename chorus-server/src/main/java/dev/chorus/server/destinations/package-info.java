/** Webhook destinations: defined once, a sender built on every replica, per-replica and cluster status. */
@NullMarked
package dev.chorus.server.destinations;

import org.jspecify.annotations.NullMarked;
