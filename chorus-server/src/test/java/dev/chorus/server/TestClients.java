package dev.chorus.server;

import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.util.Map;

/** The clients and keys the server tests configure: two tenants, a writer, a reader and an admin. */
final class TestClients {

    static final String WRITER = "writer-app";
    static final String READER = "reader-app";
    static final String ADMIN = "admin-app";
    static final String OTHER_TENANT = "globex-app";
    static final String SECRET = "s3cret-for-tests-only-0123456789abcdef";

    private TestClients() {}

    /** {@code CHORUS_CLIENTS} for the test clients, every one with {@link #SECRET}. */
    static String clientsJson() {
        String hash = Clients.hash(SECRET);
        return "["
                + client(WRITER, hash, "alice", "acme", "\"reader\",\"writer\"") + ","
                + client(READER, hash, "bob", "acme", "\"reader\"") + ","
                + client(ADMIN, hash, "root", "acme", "\"reader\",\"writer\",\"admin\"") + ","
                + client(OTHER_TENANT, hash, "carol", "globex", "\"reader\",\"writer\"")
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

    /** The environment of a replica with the test clients and {@code keyPem}. */
    static Map<String, String> env(String keyPem) {
        return Map.of("CHORUS_CLIENTS", clientsJson(), "CHORUS_JWT_PRIVATE_KEY", keyPem);
    }
}
