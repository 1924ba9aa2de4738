package dev.chorus.server;

import dev.chorus.testkit.TestPostgres;
import java.util.Map;
import java.util.UUID;

/** {@link ServerClusterContract} on the PostgreSQL backplane. */
class PostgresServerClusterIT extends ServerClusterContract {

    @Override
    protected Map<String, String> transportEnv() {
        String unique = "srv_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        return Map.of(
                "CHORUS_BACKPLANE",
                "postgres",
                "DATABASE_URL",
                TestPostgres.server().jdbcUrl(),
                "CHORUS_CHANNEL",
                unique,
                "CHORUS_STORAGE_SCHEMA",
                unique);
    }
}
