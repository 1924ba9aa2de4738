/**
 * Chorus on Redis: {@link dev.chorus.redis.RedisBackplane} (pub/sub with subscriptions verified by a canary
 * after every reconnect), {@link dev.chorus.redis.RedisMembership} (heartbeat keys with expiry) and {@link
 * dev.chorus.redis.RedisLeases} (Lua scripts, fencing tokens from INCR). They share one {@link
 * dev.chorus.redis.RedisConnector}: the URL, the Lettuce client and the key prefix.
 */
@NullMarked
package dev.chorus.redis;

import org.jspecify.annotations.NullMarked;
