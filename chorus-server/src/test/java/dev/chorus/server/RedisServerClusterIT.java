package dev.chorus.server;

import dev.chorus.testkit.TestRedis;
import java.util.Map;

/** {@link ServerClusterContract} on the Redis backplane, with storage in PostgreSQL. */
class RedisServerClusterIT extends ServerClusterContract {

    @Override
    protected Map<String, String> transportEnv() {
        Map<String, String> env = TestClients.sharedStorage("srv", "redis");
        env.put("REDIS_URL", TestRedis.server().uriWithPassword());
        return env;
    }
}
