package dev.chorus.server;

import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestRedis;
import java.util.Map;
import java.util.UUID;

/** {@link ServerClusterContract} on the Redis backplane, with storage in PostgreSQL. */
class RedisServerClusterIT extends ServerClusterContract {

    @Override
    protected Map<String, String> transportEnv() {
        String unique = "srv_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        return Map.of(
                "CHORUS_BACKPLANE",
                "redis",
                "REDIS_URL",
                TestRedis.server().uriWithPassword(),
                "DATABASE_URL",
                TestPostgres.server().jdbcUrl(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique);
    }
}
