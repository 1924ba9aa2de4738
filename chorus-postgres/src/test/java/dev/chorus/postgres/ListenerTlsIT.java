package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.Backoff;
import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.backplane.Message;
import dev.chorus.postgres.PostgresBackplaneIT.Recorder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 20: the LISTEN connection honours the TLS parameters of DATABASE_URL as pgjdbc does, against a server
 * that refuses plaintext TCP and whose certificate a test CA signed for localhost and 127.0.0.1.
 */
class ListenerTlsIT {

    private static final Secret SECRET = new Secret("chorus-test-secret-0123456789");
    private static TlsPostgresServer server;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @BeforeAll
    static void startServer() throws Exception {
        String why = TlsPostgresServer.unavailable().orElse(null);
        Assumptions.assumeTrue(why == null, () -> "skipped: " + why);
        server = TlsPostgresServer.start();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    @Test
    void verifyFull_listensOverTls_andMessagesFlow() throws Exception {
        String url = server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + server.ca);
        PostgresBackplane a = replica(url, "a");
        PostgresBackplane b = replica(url, "b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);

        a.publish(Message.of("t", "over tls")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts().contains("over tls"));
        assertThat(listenerUsesTls(b)).isTrue();
    }

    @Test
    void noSslMode_prefersTls_likePgjdbc() throws Exception {
        String url = server.url("127.0.0.1", "");
        PostgresBackplane a = replica(url, "a");
        PostgresBackplane b = replica(url, "b");
        Recorder onB = Recorder.on(b);
        awaitHealthy(a, b);

        a.publish(Message.of("t", "preferred tls")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts().contains("preferred tls"));
        assertThat(listenerUsesTls(b)).isTrue();
    }

    @Test
    void verifyFull_withAnotherCa_failsWithAClearError() {
        PostgresBackplane b =
                replica(server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + server.otherCa), "b");

        await().atMost(Duration.ofSeconds(15)).until(() -> b.health().reason().contains("cannot LISTEN"));
        assertThat(b.health().isHealthy()).isFalse();
        assertThat(b.health().reason()).contains("TLS failed with sslmode=verify-full", "sslrootcert");
        assertThat(b.listenerBackendPid()).isEqualTo(-1);
    }

    @Test
    void verifyFull_checksTheHostName_whereVerifyCaDoesNot() {
        // 127.0.0.2 reaches the same server, but is not among the certificate's names.
        PostgresBackplane full =
                replica(server.url("127.0.0.2", "sslmode=verify-full&sslrootcert=" + server.ca), "full");
        PostgresBackplane ca = replica(server.url("127.0.0.2", "sslmode=verify-ca&sslrootcert=" + server.ca), "ca");

        await().atMost(Duration.ofSeconds(15))
                .until(() -> full.health().reason().contains("cannot LISTEN"));
        assertThat(full.health().reason()).contains("TLS failed", "host");
        awaitHealthy(ca);
    }

    @Test
    void verifyFull_withoutARootCertificate_namesTheParameterToSet() {
        PostgresBackplane b =
                replica(server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt"), "b");

        await().atMost(Duration.ofSeconds(15)).until(() -> b.health().reason().contains("cannot LISTEN"));
        assertThat(b.health().reason()).contains("sslrootcert=", "/nonexistent/ca.crt");
    }

    private PostgresBackplane replica(String url, String name) {
        // The failing cases wait out the pool's connect timeout twice (creating the tables at start, the publisher at
        // close): 2 s instead of the default 5 s. The listener's TLS errors, which they check, do not depend on it.
        PostgresDatabase database = PostgresDatabase.builder(url)
                .poolSize(2)
                .connectTimeout(Duration.ofSeconds(2))
                .build();
        resources.add(database);
        PostgresBackplane backplane = PostgresBackplane.builder(database)
                .replica(ReplicaId.random(name))
                .channel("tls_test")
                .secret(SECRET)
                .canary(Duration.ofMillis(300), Duration.ofSeconds(3))
                .ping(Duration.ofMillis(300), Duration.ofSeconds(2))
                .backoff(new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1)))
                .build();
        resources.add(backplane);
        return backplane;
    }

    private static void awaitHealthy(PostgresBackplane... backplanes) {
        for (PostgresBackplane backplane : backplanes) {
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> backplane.health().isHealthy());
        }
    }

    /** Whether pg_stat_ssl shows the listener's backend on TLS (asked over a verified TLS connection). */
    private static boolean listenerUsesTls(PostgresBackplane backplane) throws Exception {
        try (PostgresDatabase admin = PostgresDatabase.builder(
                                server.url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + server.ca))
                        .build();
                Connection c = admin.connection();
                PreparedStatement statement = c.prepareStatement("SELECT ssl FROM pg_stat_ssl WHERE pid = ?")) {
            statement.setInt(1, backplane.listenerBackendPid());
            try (ResultSet rs = statement.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }
}
