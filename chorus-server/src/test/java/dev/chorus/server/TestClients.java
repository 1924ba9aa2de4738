package dev.chorus.server;

import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestSecrets;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The clients and keys the server tests configure: two tenants that both have a user alice, a writer, a
 * reader, a tenant admin, an operator and an agent client.
 */
final class TestClients {

    static final String WRITER = "writer-app";
    static final String READER = "reader-app";
    static final String ADMIN = "admin-app";
    static final String OTHER_TENANT = "globex-app";
    /** User alice of tenant globex: the same name as acme's writer, another user. */
    static final String GLOBEX_ALICE = "globex-alice-app";
    /** The cluster-wide role, in tenant acme. */
    static final String OPERATOR = "operator-app";
    /** An agent client of tenant acme that may be the agents named agent-* and a-*. */
    static final String AGENT = "agent-app";

    static final String SECRET = "s3cret-for-tests-only-0123456789abcdef";

    private TestClients() {}

    /** {@code CHORUS_CLIENTS} for the test clients, every one with {@link #SECRET}. */
    static String clientsJson() {
        String hash = Clients.hash(SECRET);
        return "["
                + client(WRITER, hash, "alice", "acme", "\"reader\",\"writer\"") + ","
                + client(READER, hash, "bob", "acme", "\"reader\"") + ","
                + client(ADMIN, hash, "root", "acme", "\"reader\",\"writer\",\"admin\"") + ","
                + client(OTHER_TENANT, hash, "carol", "globex", "\"reader\",\"writer\"") + ","
                + client(GLOBEX_ALICE, hash, "alice", "globex", "\"reader\",\"writer\",\"admin\"") + ","
                + client(OPERATOR, hash, "ops", "acme", "\"reader\",\"operator\"") + ","
                + client(AGENT, hash, "agent-runner", "acme", "\"agent\"")
                        .replace("]}", "],\"agents\":[\"agent-*\",\"a-*\"]}")
                + "]";
    }

    private static String client(String id, String hash, String user, String tenant, String roles) {
        return "{\"id\":\"" + id + "\",\"secretHash\":\"" + hash + "\",\"user\":\"" + user + "\",\"tenant\":\"" + tenant
                + "\",\"roles\":[" + roles + "]}";
    }

    /** A fresh RSA key as the PEM a deployment would put in {@code CHORUS_JWT_PRIVATE_KEY}. */
    static String newKeyPem() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return SigningKey.toPem(generator.generateKeyPair().getPrivate());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The environment of replicas that share PostgreSQL storage, on a channel and storage schema of their own
     * (named from {@code prefix}), with the test clients and a fresh key; {@code backplane} null keeps the
     * in-process default. Mutable, for tests to add to.
     */
    static Map<String, String> sharedStorage(String prefix, String backplane) {
        String unique =
                prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Map<String, String> env = new HashMap<>(env(newKeyPem()));
        env.put("DATABASE_URL", TestPostgres.server().jdbcUrl());
        env.put("CHORUS_CHANNEL", unique);
        env.put("CHORUS_STORAGE_SCHEMA", unique);
        if (backplane != null) {
            env.put("CHORUS_BACKPLANE", backplane);
        }
        return env;
    }

    /** A replica in this JVM on a free loopback port, with the test clients, a fresh key and {@code extra}. */
    static ChorusServer startLocal(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(env(newKeyPem()));
        env.put("PORT", "0");
        env.put("CHORUS_HTTP_HOST", "127.0.0.1");
        env.putAll(extra);
        return ChorusServer.start(ServerConfig.from(env));
    }

    /**
     * The environment of a replica with the test clients, {@code keyPem} and the shared cluster secret, which
     * networked backplanes require.
     */
    static Map<String, String> env(String keyPem) {
        return Map.of(
                "CHORUS_CLIENTS",
                clientsJson(),
                "CHORUS_JWT_PRIVATE_KEY",
                keyPem,
                "CHORUS_CLUSTER_SECRET",
                TestSecrets.VALUE);
    }
}
