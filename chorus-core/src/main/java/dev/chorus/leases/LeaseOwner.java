package dev.chorus.leases;

import dev.chorus.ReplicaId;
import java.time.Instant;

/**
 * Who holds a lease, as the store sees it now.
 *
 * @param key the leased key
 * @param holder the holding replica
 * @param token its fencing token
 * @param expiresAt when the store will consider it free, by the store's clock
 */
public record LeaseOwner(String key, ReplicaId holder, long token, Instant expiresAt) {}
