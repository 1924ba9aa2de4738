package dev.chorus.redis;

/**
 * The Lua of {@link RedisLeases}. A lease is the hash {@code <prefix>:lease:<key>} with the fields {@code holder}
 * (replica UUID), {@code name} and {@code token}, and a PEXPIRE of the ttl; tokens come from the counter {@code
 * <prefix>:lease-tokens}. A released lease keeps its hash without {@code holder} until its expiry, so a late
 * renewal can say "released" rather than "expired".
 *
 * <p>Tokens are written with {@code string.format('%d')}: Lua numbers are doubles, and {@code tostring} would
 * turn a large token into {@code 1.7e+15}. Every token stays below 2^53, so doubles hold it exactly.
 */
final class RedisLeaseScripts {

    private RedisLeaseScripts() {}

    /**
     * KEYS: lease, token counter. ARGV: holder UUID, holder name, ttl ms, {@code claim} or {@code acquire}.
     * Returns the token, or 0 if another replica holds the lease (acquire only).
     *
     * <p>A token is the larger of the counter's next value and the server's clock in microseconds, and the counter
     * is moved up to it. Tokens still grow by one on each take within a microsecond, but a server that lost writes
     * (a replica promoted before the last takes reached it, a restart without persistence, a lost counter) still
     * issues tokens above every token issued before, as long as its clock is ahead of the lost takes' time: after a
     * failover that takes seconds, clock skew between the hosts would have to be larger than that.
     */
    static final LuaScript TAKE = new LuaScript("take", """
            local holder = redis.call('HGET', KEYS[1], 'holder')
            if holder and ARGV[4] ~= 'claim' then
              if holder ~= ARGV[1] then
                return 0
              end
              redis.call('PEXPIRE', KEYS[1], ARGV[3])
              return tonumber(redis.call('HGET', KEYS[1], 'token'))
            end
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
            local token = redis.call('INCR', KEYS[2])
            if token < now then
              token = now
              redis.call('SET', KEYS[2], string.format('%d', token))
            end
            redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'name', ARGV[2], 'token', string.format('%d', token))
            redis.call('PEXPIRE', KEYS[1], ARGV[3])
            return token
            """);

    /**
     * KEYS: the leases of a batch, then the token counter. ARGV: holder UUID, holder name, ttl ms. Claims every
     * lease as {@link #TAKE} claims one (tokens at least the server clock in microseconds), in one script, and returns
     * their tokens in the order of KEYS.
     */
    static final LuaScript CLAIM_ALL = new LuaScript("claim-all", """
            local counter = KEYS[#KEYS]
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
            local tokens = {}
            for i = 1, #KEYS - 1 do
              local token = redis.call('INCR', counter)
              if token < now then
                token = now
                redis.call('SET', counter, string.format('%d', token))
              end
              redis.call('HSET', KEYS[i], 'holder', ARGV[1], 'name', ARGV[2], 'token', string.format('%d', token))
              redis.call('PEXPIRE', KEYS[i], ARGV[3])
              tokens[i] = token
            end
            return tokens
            """);

    /**
     * KEYS: lease. ARGV: holder UUID, token, ttl ms. Returns {@code {'renewed'}}, or {@code {'lost', holder, token,
     * name}} as the lease is now (empty strings for what is missing), for the caller to say why.
     */
    static final LuaScript RENEW = new LuaScript("renew", """
            local lease = redis.call('HMGET', KEYS[1], 'holder', 'token', 'name')
            if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
              redis.call('PEXPIRE', KEYS[1], ARGV[3])
              return {'renewed'}
            end
            return {'lost', lease[1] or '', lease[2] or '', lease[3] or ''}
            """);

    /**
     * KEYS: the leases of a batch. ARGV: holder UUID, then a token and a ttl ms per key. Renews each lease still
     * held with its token, as {@link #RENEW} does one; returns 1 (renewed) or 0 (lost) per key, in order.
     */
    static final LuaScript RENEW_ALL = new LuaScript("renew-all", """
            local renewed = {}
            for i = 1, #KEYS do
              local lease = redis.call('HMGET', KEYS[i], 'holder', 'token')
              if lease[1] == ARGV[1] and lease[2] == ARGV[2 * i] then
                redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
                renewed[i] = 1
              else
                renewed[i] = 0
              end
            end
            return renewed
            """);

    /** KEYS: lease. ARGV: holder UUID, token. Returns 1 if released, 0 if the lease was no longer this one. */
    static final LuaScript RELEASE = new LuaScript("release", """
            local lease = redis.call('HMGET', KEYS[1], 'holder', 'token')
            if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
              redis.call('HDEL', KEYS[1], 'holder', 'name')
              return 1
            end
            return 0
            """);

    /**
     * KEYS: lease. Returns {@code {}} if nobody holds it, else {@code {holder, name, token, pttl, seconds,
     * microseconds}}: the remaining time and the server clock read together, so the caller can date the expiry.
     */
    static final LuaScript OWNER = new LuaScript("owner", """
            local lease = redis.call('HMGET', KEYS[1], 'holder', 'name', 'token')
            if not lease[1] then
              return {}
            end
            local time = redis.call('TIME')
            return {lease[1], lease[2] or '', lease[3] or '', redis.call('PTTL', KEYS[1]), time[1], time[2]}
            """);
}
