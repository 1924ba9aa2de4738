package dev.chorus.server;

import java.util.Map;

/** {@link ServerClusterContract} on the PostgreSQL backplane. */
class PostgresServerClusterIT extends ServerClusterContract {

    @Override
    protected Map<String, String> transportEnv() {
        return TestClients.sharedStorage("srv", "postgres");
    }
}
