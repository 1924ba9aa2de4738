package dev.chorus.redis;

import dev.chorus.ChorusException;
import dev.chorus.ReplicaId;
import dev.chorus.membership.Member;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * The keys and Lua of {@link RedisMembership}, all under the connector's prefix:
 *
 * <ul>
 *   <li>{@code <prefix>:member:<uuid>}, a hash per member: {@code name}, {@code version}, {@code started} (server
 *       ms) and {@code attr:<name>} per attribute, with a PEXPIRE of one expiry refreshed by every beat;
 *   <li>{@code <prefix>:members}, a sorted set of UUID to the server time in ms of that member's last beat;
 *   <li>{@code <prefix>:members-left}, a sorted set of UUID to the server time of a clean leave, so the others
 *       can tell a goodbye from an entry lost with the server's data.
 * </ul>
 *
 * Entries of both sorted sets older than {@link RedisMembership#REMOVE_AFTER_EXPIRIES} expiries are removed by
 * any member's beat; both sets expire with that age too, so a cluster that is gone leaves nothing behind.
 */
final class RedisMembershipScripts {

    private static final String ATTRIBUTE = "attr:";

    /**
     * KEYS: members, left, own hash. ARGV: UUID, expiry ms, keep ms, started ms (empty on the first beat), name,
     * version, then attribute field and value pairs. Returns {now ms, started ms, own hash existed (0/1), own entry
     * existed (0/1), [uuid, score, ...] of every entry, [uuid, ...] of every recent leave}.
     *
     * <p>The hash is rewritten whole at every beat, so one deleted by hand comes back complete. The first beat keeps
     * a start time already in the hash: that of an earlier first beat whose reply was lost.
     */
    private static final LuaScript BEAT = new LuaScript("membership-beat", """
            local time = redis.call('TIME')
            local now = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
            local hadHash = redis.call('EXISTS', KEYS[3])
            local hadEntry = redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0
            local started = ARGV[4]
            if started == '' then
              started = redis.call('HGET', KEYS[3], 'started') or now
            end
            redis.call('HSET', KEYS[3], 'name', ARGV[5], 'version', ARGV[6], 'started', started, unpack(ARGV, 7))
            redis.call('PEXPIRE', KEYS[3], ARGV[2])
            redis.call('ZADD', KEYS[1], now, ARGV[1])
            local horizon = '(' .. string.format('%d', tonumber(now) - tonumber(ARGV[3]))
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
            redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
            redis.call('PEXPIRE', KEYS[1], ARGV[3])
            redis.call('PEXPIRE', KEYS[2], ARGV[3])
            return {now, started, hadHash, hadEntry,
              redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), redis.call('ZRANGE', KEYS[2], 0, -1)}
            """);

    /** KEYS: members, left, own hash. ARGV: UUID, keep ms. Deletes the member and records the goodbye. */
    private static final LuaScript LEAVE = new LuaScript("membership-leave", """
            local time = redis.call('TIME')
            local now = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
            redis.call('DEL', KEYS[3])
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('ZADD', KEYS[2], now, ARGV[1])
            redis.call('PEXPIRE', KEYS[2], ARGV[2])
            return 1
            """);

    /**
     * What one beat saw, by the server clock.
     *
     * @param nowMillis the server time of the beat
     * @param startedMillis this member's start time as stored
     * @param ownEntryWasThere whether this member's hash and sorted-set entry both existed before the beat
     * @param beats every member's last beat, expired ones included, until they are removed
     * @param left the members that left cleanly lately
     */
    record Beat(long nowMillis, long startedMillis, boolean ownEntryWasThere, Map<UUID, Long> beats, Set<UUID> left) {}

    private final RedisConnector redis;
    private final String membersKey;
    private final String leftKey;
    private final String keepMillis;
    private final String expiryMillis;

    RedisMembershipScripts(RedisConnector redis, Duration expiry) {
        this.redis = redis;
        this.membersKey = redis.key("members");
        this.leftKey = redis.key("members-left");
        this.expiryMillis = Long.toString(expiry.toMillis());
        this.keepMillis = Long.toString(expiry.toMillis() * RedisMembership.REMOVE_AFTER_EXPIRIES);
    }

    /** Refreshes {@code self}'s entry, re-creating it if it is gone, and reads every entry. */
    Beat beat(RedisCommands<String, String> commands, Member self, @Nullable Long startedMillis) {
        List<String> args = new ArrayList<>();
        args.add(self.id().uuid().toString());
        args.add(expiryMillis);
        args.add(keepMillis);
        args.add(startedMillis == null ? "" : Long.toString(startedMillis));
        String name = self.id().name();
        args.add(name == null ? "" : name);
        args.add(self.version());
        for (Map.Entry<String, String> attribute : self.attributes().entrySet()) {
            args.add(ATTRIBUTE + attribute.getKey());
            args.add(attribute.getValue());
        }
        List<Object> reply = BEAT.run(commands, ScriptOutputType.MULTI, keys(self.id()), args.toArray(String[]::new));
        Map<UUID, Long> beats = new LinkedHashMap<>();
        List<?> entries = (List<?>) reply.get(4);
        for (int i = 0; i + 1 < entries.size(); i += 2) {
            UUID id = uuid(entries.get(i));
            if (id != null) {
                // Scores come back as doubles' text; they hold whole milliseconds.
                beats.put(id, (long) Double.parseDouble(String.valueOf(entries.get(i + 1))));
            }
        }
        Set<UUID> left = new HashSet<>();
        for (Object entry : (List<?>) reply.get(5)) {
            UUID id = uuid(entry);
            if (id != null) {
                left.add(id);
            }
        }
        return new Beat(
                number(reply.get(0)),
                number(reply.get(1)),
                number(reply.get(2)) == 1 && number(reply.get(3)) == 1,
                beats,
                left);
    }

    /**
     * The hashes of {@code ids}, read in one pipeline, as members with their last beat; a member whose hash is gone
     * (it expired or left since the beat) is missing from the result.
     */
    Map<UUID, Member> read(RedisAsyncCommands<String, String> commands, Collection<UUID> ids, Map<UUID, Long> beats)
            throws InterruptedException {
        Map<UUID, RedisFuture<Map<String, String>>> pending = new LinkedHashMap<>();
        for (UUID id : ids) {
            pending.put(id, commands.hgetall(hashKey(id)));
        }
        Map<UUID, Member> members = new LinkedHashMap<>();
        for (Map.Entry<UUID, RedisFuture<Map<String, String>>> entry : pending.entrySet()) {
            Map<String, String> hash;
            try {
                // Bounded: the connector's timeout options fail the command after its command timeout.
                hash = entry.getValue().get();
            } catch (ExecutionException e) {
                throw new ChorusException("reading member " + entry.getKey() + " failed", e.getCause());
            }
            Member member = member(entry.getKey(), hash, beats.get(entry.getKey()));
            if (member != null) {
                members.put(entry.getKey(), member);
            }
        }
        return members;
    }

    /** Deletes {@code self}'s entry and records that it left cleanly. */
    void leave(RedisCommands<String, String> commands, ReplicaId self) {
        LEAVE.run(commands, ScriptOutputType.INTEGER, keys(self), self.uuid().toString(), keepMillis);
    }

    private String[] keys(ReplicaId self) {
        return new String[] {membersKey, leftKey, hashKey(self.uuid())};
    }

    private String hashKey(UUID id) {
        return redis.key("member:" + id);
    }

    private static @Nullable Member member(UUID id, Map<String, String> hash, @Nullable Long beatMillis) {
        if (hash.isEmpty() || beatMillis == null) {
            return null;
        }
        Map<String, String> attributes = new LinkedHashMap<>();
        for (Map.Entry<String, String> field : hash.entrySet()) {
            if (field.getKey().startsWith(ATTRIBUTE)) {
                attributes.put(field.getKey().substring(ATTRIBUTE.length()), field.getValue());
            }
        }
        Instant beat = Instant.ofEpochMilli(beatMillis);
        Instant started = beat;
        try {
            started = Instant.ofEpochMilli(Long.parseLong(hash.getOrDefault("started", "")));
        } catch (NumberFormatException e) {
            // Written by hand or by another version: the last beat is the best start time we have.
        }
        return new Member(
                replica(id, hash.get("name")), hash.getOrDefault("version", "unknown"), started, beat, attributes);
    }

    private static long number(Object reply) {
        return reply instanceof Long value ? value : Long.parseLong(String.valueOf(reply));
    }

    private static @Nullable UUID uuid(@Nullable Object entry) {
        try {
            return UUID.fromString(String.valueOf(entry));
        } catch (IllegalArgumentException e) {
            return null; // not written by Chorus; ignore it rather than fail every beat
        }
    }

    private static ReplicaId replica(UUID id, @Nullable String name) {
        try {
            return ReplicaId.of(id, name);
        } catch (ChorusException e) {
            // A name this version would not accept (written by hand, or by another version): keep the id.
            return ReplicaId.of(id, null);
        }
    }
}
