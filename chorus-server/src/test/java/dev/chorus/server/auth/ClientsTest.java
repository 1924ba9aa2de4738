package dev.chorus.server.auth;

import static dev.chorus.server.auth.TestKeys.env;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ConfigurationException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientsTest {

    private static final String WEB_SECRET = "wBq3kN8vXr2TzL6pYs1Hd9FcJm4GaUe7";
    private static final String JOBS_SECRET = "Qm7Zc2Lx9Vb4Nw1Ks8Hp3Jd6Tf5Ry0Ga";

    private static final String CONFIG = """
            [
              {"id":"web","secretHash":"%s","user":"alice","tenant":"acme","roles":["reader","writer"]},
              {"id":"jobs.batch-1","secretHash":"%s","user":"batch","tenant":"acme"}
            ]
            """.formatted(Clients.hash(WEB_SECRET), Clients.hash(JOBS_SECRET));

    @Test
    void hash_isSha256InLowerCaseHex() {
        // SHA-256 of the 32 characters "a".repeat(32), computed independently with sha256sum.
        assertThat(Clients.hash("a".repeat(32)))
                .isEqualTo("sha256:3ba3f5f43b92602683c19aee62a20342b084dd5971ddd33808d81a328879a547");
    }

    @Test
    void hash_refusesShortSecretsWithoutEchoingThem() {
        assertThatThrownBy(() -> Clients.hash("hunter2"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 32")
                .hasMessageContaining("openssl rand -base64 32")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void authenticate_returnsTheConfiguredPrincipal() {
        Clients clients = Clients.fromEnvironment(env(Map.of(Clients.CLIENTS, CONFIG)));

        assertThat(clients.size()).isEqualTo(2);
        assertThat(clients.isEmpty()).isFalse();
        assertThat(clients.ids()).containsExactlyInAnyOrder("web", "jobs.batch-1");
        assertThat(clients.authenticate("web", WEB_SECRET))
                .isEqualTo(new Principal("web", "alice", "acme", Set.of("reader", "writer")));
        assertThat(clients.authenticate("jobs.batch-1", JOBS_SECRET))
                .isEqualTo(new Principal("jobs.batch-1", "batch", "acme", Set.of()));
    }

    @Test
    void unknownIdAndWrongSecret_failWithTheSameMessage() {
        Clients clients = Clients.fromEnvironment(env(Map.of(Clients.CLIENTS, CONFIG)));

        String wrongSecret = messageOf(() -> clients.authenticate("web", JOBS_SECRET));
        String unknownId = messageOf(() -> clients.authenticate("nobody", WEB_SECRET));
        String nulls = messageOf(() -> clients.authenticate(null, null));
        String nullSecret = messageOf(() -> clients.authenticate("web", null));
        String emptySecret = messageOf(() -> clients.authenticate("web", ""));

        assertThat(wrongSecret).isEqualTo("invalid client credentials");
        assertThat(List.of(unknownId, nulls, nullSecret, emptySecret)).containsOnly(wrongSecret);
    }

    @Test
    void file_isRead(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("clients.json");
        Files.writeString(file, CONFIG);

        Clients clients = Clients.fromEnvironment(env(Map.of(Clients.CLIENTS_FILE, file.toString())));

        assertThat(clients.authenticate("web", WEB_SECRET).user()).isEqualTo("alice");
    }

    @Test
    void nothingConfigured_isEmpty() {
        Clients clients = Clients.fromEnvironment(env(Map.of(Clients.CLIENTS, "  ")));

        assertThat(clients.isEmpty()).isTrue();
        assertThat(clients.size()).isZero();
        assertThatThrownBy(() -> clients.authenticate("demo", "x")).isInstanceOf(AuthenticationException.class);
    }

    @Test
    void demo_isOneClientWithEveryRoleAndAnyAgent() {
        Clients demo = Clients.demo("demo-secret");

        assertThat(demo.size()).isEqualTo(1);
        assertThat(demo.authenticate("demo", "demo-secret"))
                .isEqualTo(new Principal("demo", "demo", "demo", Roles.ALL));
        assertThat(demo.mayBeAgent("demo", "any-agent")).isTrue();
        assertThatThrownBy(() -> demo.authenticate("demo", "other")).isInstanceOf(AuthenticationException.class);
    }

    @Test
    void agents_areTheClientsPatterns_orItsUser() {
        String hash = Clients.hash(WEB_SECRET);
        Clients clients = Clients.fromEnvironment(env(Map.of(
                Clients.CLIENTS,
                "[" + entryObject("web", hash).replace("}", ",\"agents\":[\"sensor-*\",\"gw\"]}") + ","
                        + entryObject("plain", hash) + "]")));

        assertThat(clients.mayBeAgent("web", "sensor-7")).isTrue();
        assertThat(clients.mayBeAgent("web", "gw")).isTrue();
        assertThat(clients.mayBeAgent("web", "gw2")).isFalse();
        assertThat(clients.mayBeAgent("web", "other")).isFalse();
        assertThat(clients.mayBeAgent("plain", "u")).isTrue();
        assertThat(clients.mayBeAgent("plain", "sensor-7")).isFalse();
        assertThat(clients.mayBeAgent("unknown", "u")).isFalse();
    }

    @Test
    void bothVariables_areRefusedNamingBoth() {
        assertThat(configError(Map.of(Clients.CLIENTS, CONFIG, Clients.CLIENTS_FILE, "/etc/clients.json")))
                .hasMessageContaining("CHORUS_CLIENTS and CHORUS_CLIENTS_FILE are both set");
    }

    @Test
    void documentErrors_nameTheVariable() {
        assertThat(configError(Map.of(Clients.CLIENTS, "[{\"id\":\"web\", secret-value-typed-here}]")))
                .hasMessageStartingWith("CHORUS_CLIENTS is not valid JSON at line 1")
                .hasMessageNotContaining("secret-value-typed-here");
        assertThat(configError(Map.of(Clients.CLIENTS, "{\"id\":\"web\"}")))
                .hasMessageContaining("CHORUS_CLIENTS must be a JSON array");
        assertThat(configError(Map.of(Clients.CLIENTS, "[]"))).hasMessageContaining("CHORUS_CLIENTS is an empty array");
        assertThat(configError(Map.of(Clients.CLIENTS, "[] []"))).hasMessageContaining("is not valid JSON");
        assertThat(configError(Map.of(Clients.CLIENTS, "[{\"id\":\"a\",\"id\":\"b\"}]")))
                .hasMessageContaining("is not valid JSON");
        assertThat(configError(Map.of(Clients.CLIENTS_FILE, "/nonexistent/chorus-clients.json")))
                .hasMessageContaining("CHORUS_CLIENTS_FILE='/nonexistent/chorus-clients.json' does not exist");
    }

    @Test
    void entryErrors_nameTheVariableTheEntryAndTheField() {
        String hash = Clients.hash(WEB_SECRET);
        Map<String, String> cases = pairs(
                "[\"web\"]",
                "CHORUS_CLIENTS[0] is not a JSON object",
                entry("\"id\":\"no spaces\",\"secretHash\":\"" + hash + "\",\"user\":\"u\",\"tenant\":\"t\""),
                "CHORUS_CLIENTS[0]: field id must be",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash.toUpperCase() + "\",\"user\":\"u\",\"tenant\":\"t\""),
                "CHORUS_CLIENTS[0] (id 'web'): field secretHash must be",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\" \",\"tenant\":\"t\""),
                "CHORUS_CLIENTS[0] (id 'web'): field user must be",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\"u\""),
                "CHORUS_CLIENTS[0] (id 'web'): field tenant must be",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\"u\",\"tenant\":\"t\",\"roles\":\"r\""),
                "CHORUS_CLIENTS[0] (id 'web'): field roles must be",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\"u\",\"tenant\":\"t\",\"roles\":[1]"),
                "CHORUS_CLIENTS[0] (id 'web'): field roles must be",
                "[" + entryObject("web", hash) + "," + entryObject("web", hash) + "]",
                "CHORUS_CLIENTS[1] (id 'web'): id is already used",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash
                        + "\",\"user\":\"u\",\"tenant\":\"t\",\"roles\":[\"opertor\"]"),
                "CHORUS_CLIENTS[0] (id 'web'): unknown role 'opertor' (the roles are [admin, agent, operator,",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\"u\",\"tenant\":\"a\\u0000b\""),
                "CHORUS_CLIENTS[0] (id 'web'): field tenant must be 1 to 128 printable characters",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash + "\",\"user\":\" alice\",\"tenant\":\"t\""),
                "CHORUS_CLIENTS[0] (id 'web'): field user must be 1 to 128 printable characters",
                entry("\"id\":\"web\",\"secretHash\":\"" + hash
                        + "\",\"user\":\"u\",\"tenant\":\"t\",\"agents\":[\"a b\"]"),
                "CHORUS_CLIENTS[0] (id 'web'): field agents must be an array of agent ids");

        cases.forEach((json, expected) -> {
            ConfigurationException e = configError(Map.of(Clients.CLIENTS, json));
            assertThat(e.variable()).isEqualTo(Clients.CLIENTS);
            assertThat(e.getMessage()).as(json).contains(expected);
        });
    }

    @Test
    void aPlainSecret_isRefusedWithoutBeingEchoed() {
        ConfigurationException e = configError(Map.of(
                Clients.CLIENTS,
                entry("\"id\":\"web\",\"secret\":\"" + WEB_SECRET + "\",\"secretHash\":\"" + WEB_SECRET
                        + "\",\"user\":\"u\",\"tenant\":\"t\"")));

        assertThat(e.getMessage())
                .startsWith("2 problems in CHORUS_CLIENTS:")
                .contains("CHORUS_CLIENTS[0] (id 'web'): unknown field 'secret'")
                .contains("never the secret itself")
                .contains("field secretHash must be")
                .doesNotContain(WEB_SECRET);
    }

    @Test
    void fileErrors_nameTheFileVariable(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("clients.json");
        Files.writeString(file, "[{\"id\":\"web\"}]");

        ConfigurationException e = configError(Map.of(Clients.CLIENTS_FILE, file.toString()));

        assertThat(e.variable()).isEqualTo(Clients.CLIENTS_FILE);
        assertThat(e.getMessage()).contains("CHORUS_CLIENTS_FILE='" + file + "'[0] (id 'web'): field secretHash");
    }

    private static String entry(String fields) {
        return "[{" + fields + "}]";
    }

    private static Map<String, String> pairs(String... keysAndValues) {
        Map<String, String> pairs = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            pairs.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return pairs;
    }

    private static String entryObject(String id, String hash) {
        return "{\"id\":\"" + id + "\",\"secretHash\":\"" + hash + "\",\"user\":\"u\",\"tenant\":\"t\"}";
    }

    private static ConfigurationException configError(Map<String, String> values) {
        try {
            Clients.fromEnvironment(env(values));
        } catch (ConfigurationException e) {
            return e;
        }
        throw new AssertionError("expected a ConfigurationException for " + values);
    }

    private static String messageOf(Runnable call) {
        try {
            call.run();
        } catch (AuthenticationException e) {
            return e.getMessage();
        }
        throw new AssertionError("expected an AuthenticationException");
    }
}
