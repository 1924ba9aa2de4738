/**
 * Webhook destinations: defined once with a signing secret, a sender built on every replica, per-replica
 * and cluster status. The entry point is {@link dev.chorus.server.destinations.Destinations}; where a
 * webhook may go is {@code TargetPolicy}, checked on the resolved address before every connection
 * ({@code WebhookClient}); signing is {@link dev.chorus.server.destinations.WebhookSignature}; receivers'
 * side: {@code docs/webhooks.md}.
 */
@NullMarked
package dev.chorus.server.destinations;

import org.jspecify.annotations.NullMarked;
