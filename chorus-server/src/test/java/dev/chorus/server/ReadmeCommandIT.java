package dev.chorus.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's quick start, as a newcomer runs it: {@code bin/chorus run} starts one replica on the embedded
 * default, which answers health, hands out a token to its demo client and stores a resource.
 */
class ReadmeCommandIT {

    private static final Pattern DEMO_SECRET = Pattern.compile("client 'demo' with secret (\\S+) ");

    @Test
    void binChorusRunStartsAWorkingReplica() throws Exception {
        Path root = root();
        try (ServerProcess server = ServerProcess.start(
                "readme", List.of("bin/chorus", "run"), root, Map.of("CHORUS_REPLICA_NAME", "readme"))) {
            Api api = new Api(server.uri());
            assertThat(api.get("/health/ready").status()).isEqualTo(200);
            String secret = server.output().stream()
                    .map(DEMO_SECRET::matcher)
                    .filter(Matcher::find)
                    .map(m -> m.group(1))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no demo client in the startup log"));
            // The demo client holds every role, operator included: the detailed health is its to see.
            assertThat(api.asOperator("demo", secret)
                            .operatorGet("/health")
                            .json()
                            .path("components")
                            .path("backplane")
                            .path("details")
                            .path("backend")
                            .asText())
                    .isEqualTo("inprocess");
            String token = api.token("demo", secret);
            assertThat(api.put("/api/resources/notes/hello", token, "{\"text\":\"hi\"}")
                            .status())
                    .isEqualTo(201);
            assertThat(api.get("/api/resources/notes/hello", token).body()).isEqualTo("{\"text\":\"hi\"}");
            // Every log line names the replica it came from.
            assertThat(server.output()).anyMatch(line -> line.contains("[readme/") && line.contains("listening on"));
        }
    }

    @Test
    void theJarLogsOneJsonObjectPerLineWhenAsked() throws Exception {
        Path root = root();
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        try (ServerProcess server = ServerProcess.start(
                "json",
                List.of(java.toString(), "-jar", "chorus-server/target/chorus-server.jar"),
                root,
                Map.of("CHORUS_LOG_FORMAT", "json"))) {
            String listening = server.output().stream()
                    .filter(line -> line.contains("listening on"))
                    .findFirst()
                    .orElseThrow();
            JsonNode entry = Api.JSON.readTree(listening);
            assertThat(entry.path("level").asText()).isEqualTo("INFO");
            assertThat(entry.path("formattedMessage").asText()).contains("backplane inprocess");
            assertThat(entry.path("context").toString()).contains("json/");
        }
    }

    private static Path root() {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("bin/chorus"))) {
            root = root.getParent();
        }
        return root;
    }
}
