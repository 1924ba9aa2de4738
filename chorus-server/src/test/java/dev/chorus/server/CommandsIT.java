package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The jar's one-shot commands against a real replica: what a HEALTHCHECK and a {@code helm test} pod run. */
class CommandsIT {

    private static ChorusServer server;
    private static String base;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeAll
    static void start() {
        server = TestClients.startLocal(Map.of());
        base = "http://127.0.0.1:" + server.port();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private int run(Map<String, String> env, String... args) {
        return new Commands(
                        env::get,
                        new PrintStream(out, true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(args);
    }

    private String printed() {
        return out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void healthPassesOnALiveReplicaAndFailsOnAPathThatIsNotOk() {
        assertThat(run(Map.of("PORT", String.valueOf(server.port())), "health")).isEqualTo(Commands.OK);
        assertThat(run(
                        Map.of(
                                "PORT",
                                "1",
                                "CHORUS_HTTP_PORT",
                                String.valueOf(server.port()),
                                "CHORUS_HTTP_HOST",
                                "127.0.0.1"),
                        "health"))
                .as("CHORUS_HTTP_PORT wins over PORT, as in the server")
                .isEqualTo(Commands.OK);
        assertThat(run(Map.of(), "health", base + "/health")).isEqualTo(Commands.FAILED);
        assertThat(printed()).contains("answered 401");
    }

    @Test
    void verifyAsTheOperatorPrintsEachCheckAndPasses() {
        Map<String, String> env = new HashMap<>();
        env.put(Commands.VERIFY_CLIENT_ID, TestClients.OPERATOR);
        env.put(Commands.VERIFY_CLIENT_SECRET, TestClients.SECRET);
        assertThat(run(env, "verify", base)).as(printed()).isEqualTo(Commands.OK);
        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains("PASS  ")
                .contains("cluster verify passed")
                .contains("PASS  instances: 1 live, at least 1 expected");
    }

    @Test
    void verifyFailsWhenFewerReplicasAreLiveThanTheDeploymentRuns() {
        Map<String, String> env = new HashMap<>();
        env.put(Commands.VERIFY_CLIENT_ID, TestClients.OPERATOR);
        env.put(Commands.VERIFY_CLIENT_SECRET, TestClients.SECRET);
        env.put(Commands.VERIFY_MIN_INSTANCES, "3");
        // A replica alone passes the cluster's own checks: only the expected count tells it from a cluster.
        assertThat(run(env, "verify", base)).as(printed()).isEqualTo(Commands.FAILED);
        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains("FAIL  instances: 1 live, at least 3 expected")
                .contains("check discovery");
        env.put(Commands.VERIFY_MIN_INSTANCES, "none");
        assertThat(run(env, "verify", base)).isEqualTo(Commands.USAGE);
    }

    @Test
    void verifyAsAClientWithoutTheOperatorRoleFailsAndSaysWhy() {
        Map<String, String> env = Map.of(
                Commands.VERIFY_CLIENT_ID, TestClients.WRITER, Commands.VERIFY_CLIENT_SECRET, TestClients.SECRET);
        assertThat(run(env, "verify", base)).isEqualTo(Commands.FAILED);
        assertThat(printed()).contains("403").contains("operator role");
    }

    @Test
    void verifyWithAWrongSecretFailsWithTheServersAnswer() {
        Map<String, String> env =
                Map.of(Commands.VERIFY_CLIENT_ID, TestClients.OPERATOR, Commands.VERIFY_CLIENT_SECRET, "wrong");
        assertThat(run(env, "verify", base)).isEqualTo(Commands.FAILED);
        assertThat(printed()).contains("could not sign in").contains("invalid_client");
    }

    @Test
    void verifyWithoutTheClientVariablesNamesThem() {
        assertThat(run(Map.of(), "verify", base)).isEqualTo(Commands.USAGE);
        assertThat(printed()).contains(Commands.VERIFY_CLIENT_ID).contains(Commands.VERIFY_CLIENT_SECRET);
    }

    @Test
    void verifyOfAServerThatNeverAnswersGivesUpAfterItsTimeout() {
        Map<String, String> env = Map.of(
                Commands.VERIFY_CLIENT_ID,
                TestClients.OPERATOR,
                Commands.VERIFY_CLIENT_SECRET,
                TestClients.SECRET,
                Commands.VERIFY_TIMEOUT,
                "1s");
        // Port 1 on loopback refuses at once: nothing listens there.
        assertThat(run(env, "verify", "http://127.0.0.1:1")).isEqualTo(Commands.FAILED);
        assertThat(printed()).contains("did not answer within 1 s");
    }

    @Test
    void aBadCommandLineExplainsTheUsage() {
        assertThat(run(Map.of(), "verify")).isEqualTo(Commands.USAGE);
        assertThat(run(Map.of(), "verify", "chorus:8080")).isEqualTo(Commands.USAGE);
        assertThat(run(Map.of(), "frobnicate")).isEqualTo(Commands.USAGE);
        assertThat(printed()).contains("unknown command 'frobnicate'").contains("not an http(s) URL");
    }
}
