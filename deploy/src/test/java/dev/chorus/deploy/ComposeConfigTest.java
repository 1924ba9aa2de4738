package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.chorus.ChorusConfig;
import dev.chorus.deploy.KustomizeTest.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * Checks {@code deploy/compose}: Compose accepts the file for every profile, HAProxy accepts its configuration,
 * and both describe three replicas per backplane with cookie affinity on {@code /ws/} and secrets from files.
 */
class ComposeConfigTest {

    private static final List<String> PROFILES = List.of("postgres", "redis", "jgroups");
    private static final List<String> REPLICAS = List.of("chorus-1", "chorus-2", "chorus-3");
    private static final Path COMPOSE = Tools.repoRoot().resolve("deploy/compose");

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "redis", "jgroups"})
    void dockerCompose_acceptsTheFileForEveryProfile(String profile, @TempDir Path tmp) throws IOException {
        Path compose = Tools.onPath("docker-compose").orElse(null);
        Assumptions.assumeTrue(
                compose != null,
                "docker-compose is not on the PATH: install the Debian package docker-compose (1.29) to check"
                        + " deploy/compose/compose.yaml");
        // Compose refuses a missing env_file, and the secret files are the user's: a copy with stand-ins, laid
        // out like the repository so the build context (../..) exists.
        Path dir = Files.createDirectories(tmp.resolve("deploy/compose"));
        Files.copy(COMPOSE.resolve("compose.yaml"), dir.resolve("compose.yaml"));
        Files.copy(COMPOSE.resolve("haproxy.cfg"), dir.resolve("haproxy.cfg"));
        Path secrets = Files.createDirectories(dir.resolve("secrets"));
        Files.writeString(secrets.resolve("chorus.env"), "DATABASE_URL=postgres://chorus:pw@postgres:5432/chorus\n");
        for (String file : List.of("cluster-secret", "private-key.pem", "clients.json", "postgres-password")) {
            Files.writeString(secrets.resolve(file), "stand-in\n");
        }

        List<String> command = List.of(compose.toString(), "-f", "compose.yaml", "--profile", profile, "config", "-q");
        Tools.run(command, dir, Map.of());
        if (profile.equals("jgroups")) {
            Tools.run(command, dir, Map.of("CLUSTER_DISCOVERY", "TCP"));
        }
    }

    @Test
    void haproxy_acceptsItsConfiguration() {
        Path haproxy = Tools.onPath("haproxy").orElse(null);
        Assumptions.assumeTrue(
                haproxy != null, "haproxy is not on the PATH: install the Debian package haproxy to check haproxy.cfg");
        // The replicas' names do not resolve here; HAProxy is told to start anyway (init-addr none), as in Compose.
        Tools.run(List.of(
                haproxy.toString(), "-c", "-f", COMPOSE.resolve("haproxy.cfg").toString()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "redis", "jgroups"})
    void profile_hasThreeHardenedReplicasOnItsBackplaneWithSecretsFromFiles(String profile) {
        Map<String, Object> file = composeFile();
        Map<String, Map<String, Object>> services = map(file.get("services"));
        Map<String, Map<String, Object>> replicas = replicas(services, profile);

        assertThat(replicas).hasSize(3);
        assertThat(replicas.values())
                .extracting(s -> map(s.get("environment")).get("CHORUS_REPLICA_NAME"))
                .containsExactlyInAnyOrderElementsOf(REPLICAS);
        Map<String, Object> secrets = map(file.get("secrets"));
        for (Map.Entry<String, Map<String, Object>> replica : replicas.entrySet()) {
            Map<String, Object> service = replica.getValue();
            Map<String, String> env = map(service.get("environment"));
            String name = env.get("CHORUS_REPLICA_NAME");
            assertThat(list(map(map(service.get("networks")).get("default")).get("aliases")))
                    .as(replica.getKey() + " answers to its replica name")
                    .containsExactly(name);
            assertThat(service)
                    .containsEntry("image", "chorus-server:latest")
                    .containsEntry("build", Map.of("context", "../..", "dockerfile", "deploy/docker/Dockerfile"))
                    .containsEntry("read_only", true)
                    .containsEntry("user", "10001:10001")
                    .containsEntry("tmpfs", List.of("/tmp"))
                    .containsEntry("cap_drop", List.of("ALL"));
            assertThat(map(service.get("depends_on"))).containsKey("postgres");
            if (profile.equals("redis")) {
                assertThat(map(service.get("depends_on"))).containsKey("redis");
            }

            // The key and the clients are Compose secrets read from files, where the env says they are.
            Map<String, String> mounted = new LinkedHashMap<>();
            for (Object s : list(service.get("secrets"))) {
                Map<String, String> secret = map(s);
                assertThat(map(secrets.get(secret.get("source"))))
                        .as("secret " + secret.get("source"))
                        .containsKey("file");
                mounted.put("/run/secrets/" + secret.get("target"), secret.get("source"));
            }
            assertThat(mounted)
                    .containsKeys(
                            env.get("CHORUS_CLUSTER_SECRET_FILE"),
                            env.get("CHORUS_JWT_PRIVATE_KEY_FILE"),
                            env.get("CHORUS_CLIENTS_FILE"));
            // The database URL, which the server reads only from its environment, comes from the user's env file.
            assertThat(list(service.get("env_file"))).containsExactly("secrets/chorus.env");
            assertThat(env).doesNotContainKeys("CHORUS_CLUSTER_SECRET", "DATABASE_URL", "CHORUS_JWT_PRIVATE_KEY");

            assertThat(env.keySet().stream()
                            .filter(key -> !ServerFacts.get().reads(key))
                            .toList())
                    .as(name + ": environment names the server never reads")
                    .isEmpty();
            ChorusConfig config = serverConfig(env, Map.of());
            assertThat(config.backplane().name()).isEqualToIgnoringCase(profile);
            assertThat(config.replicaName()).contains(name);
        }
        assertThat(list(map(services.get("postgres")).get("secrets"))).containsExactly("postgres-password");
        assertThat(map(map(services.get("postgres")).get("environment")))
                .containsEntry("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres-password");
        assertThat(list(map(services.get("haproxy")).get("profiles"))).contains(profile);
        assertThat(list(map(services.get("postgres")).get("profiles"))).contains(profile);
        assertThat(list(map(services.get("redis")).get("profiles")).contains(profile))
                .isEqualTo(profile.equals("redis"));
    }

    @Test
    void jgroupsProfile_isMulticastByDefaultAndListsTheReplicasForTcp() {
        Map<String, Map<String, Object>> replicas = replicas(map(composeFile().get("services")), "jgroups");

        for (Map<String, Object> replica : replicas.values()) {
            Map<String, String> env = map(replica.get("environment"));
            ChorusConfig multicast = serverConfig(env, Map.of());
            assertThat(multicast.discovery()).isEqualTo(ChorusConfig.Discovery.MULTICAST);

            ChorusConfig tcp = serverConfig(env, Map.of("CLUSTER_DISCOVERY", "TCP"));
            assertThat(tcp.discovery()).isEqualTo(ChorusConfig.Discovery.TCP);
            assertThat(tcp.initialHosts())
                    .extracting(ChorusConfig.HostPort::toString)
                    .containsExactlyElementsOf(
                            REPLICAS.stream().map(r -> r + "[7800]").toList());
            assertThat(tcp.clusterPort()).isEqualTo(7800);
        }
    }

    @Test
    void haproxy_balancesTheApiAndKeepsWebSocketsOnTheirReplicaByCookie() throws IOException {
        Map<String, List<String>> sections = haproxySections();

        assertThat(sections.get("frontend chorus"))
                .contains(
                        "bind :8080",
                        "acl websocket path_beg /ws/",
                        "use_backend sticky if websocket",
                        "default_backend replicas");
        assertThat(sections.get("backend sticky")).contains("cookie CHORUS_REPLICA insert indirect nocache");
        for (String backend : List.of("backend replicas", "backend sticky")) {
            assertThat(sections.get(backend))
                    .as(backend)
                    .contains("option httpchk GET /health/ready", "http-check expect status 200");
            List<String> servers = sections.get(backend).stream()
                    .filter(l -> l.startsWith("server "))
                    .toList();
            assertThat(servers).hasSize(3);
            for (String replica : REPLICAS) {
                String server = "server " + replica + " " + replica + ":8080";
                assertThat(servers)
                        .as(backend)
                        .contains(backend.equals("backend sticky") ? server + " cookie " + replica : server);
            }
        }
        // Checks on every server, often enough that a draining replica leaves the pool within its drain delay.
        assertThat(sections.get("defaults"))
                .anySatisfy(
                        l -> assertThat(l).startsWith("default-server").contains(" check", "inter 500ms", "fall 1"));
        assertThat(sections.get("defaults")).contains("timeout tunnel 1h");

        Map<String, Object> haproxy = map(map(composeFile().get("services")).get("haproxy"));
        assertThat(list(haproxy.get("volumes"))).contains("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro");
        assertThat(list(haproxy.get("ports"))).containsExactly("8080:8080");
    }

    private static Map<String, List<String>> haproxySections() throws IOException {
        Map<String, List<String>> sections = new LinkedHashMap<>();
        List<String> current = null;
        for (String line : Files.readAllLines(COMPOSE.resolve("haproxy.cfg"))) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                continue;
            }
            if (!Character.isWhitespace(line.charAt(0))) {
                current = new ArrayList<>();
                sections.put(trimmed, current);
            } else if (current != null) {
                current.add(trimmed.replaceAll("\\s+", " "));
            }
        }
        return sections;
    }

    private static Map<String, Map<String, Object>> replicas(
            Map<String, Map<String, Object>> services, String profile) {
        Map<String, Map<String, Object>> replicas = new LinkedHashMap<>();
        services.forEach((name, service) -> {
            Object env = service.get("environment");
            if (list(service.get("profiles")).contains(profile)
                    && env instanceof Map<?, ?> vars
                    && vars.containsKey("CHORUS_BACKPLANE")) {
                replicas.put(name, service);
            }
        });
        return replicas;
    }

    /** Reads a replica's env the way the server does, the env file and Compose's interpolation applied. */
    private static ChorusConfig serverConfig(Map<String, ?> env, Map<String, String> shell) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("DATABASE_URL", "postgres://chorus:pw@postgres:5432/chorus");
        Pattern variable = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");
        env.forEach((name, value) -> {
            Matcher m = variable.matcher(String.valueOf(value));
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                String set = shell.get(m.group(1));
                String fallback = m.group(2) == null ? "" : m.group(2);
                m.appendReplacement(out, Matcher.quoteReplacement(set != null ? set : fallback));
            }
            values.put(name, m.appendTail(out).toString());
        });
        // The secret file exists only in a container; the server reads its content as the secret.
        if (values.remove("CHORUS_CLUSTER_SECRET_FILE") != null) {
            values.put("CHORUS_CLUSTER_SECRET", "0123456789abcdef0123456789abcdef");
        }
        return ChorusConfig.from(values::get);
    }

    /** compose.yaml with YAML 1.1 merge keys ({@code <<}) applied, as Compose applies them. */
    static Map<String, Object> composeFile() {
        try {
            Object yaml = new Load(LoadSettings.builder().build())
                    .loadFromString(Files.readString(COMPOSE.resolve("compose.yaml")));
            return map(merge(yaml));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** snakeyaml-engine speaks YAML 1.2, which has no merge key: explicit keys win, then earlier merged maps. */
    private static Object merge(Object node) {
        if (node instanceof List<?> items) {
            return items.stream().map(ComposeConfigTest::merge).toList();
        }
        if (!(node instanceof Map<?, ?> mapping)) {
            return node;
        }
        Map<String, Object> merged = new LinkedHashMap<>();
        Object inherited = mapping.get("<<");
        List<?> sources =
                inherited instanceof List<?> several ? several : inherited == null ? List.of() : List.of(inherited);
        for (Object source : sources) {
            map(merge(source)).forEach(merged::putIfAbsent);
        }
        Map<String, Object> own = new LinkedHashMap<>();
        mapping.forEach((k, v) -> {
            if (!"<<".equals(k)) {
                own.put(String.valueOf(k), merge(v));
            }
        });
        merged.forEach(own::putIfAbsent);
        return own;
    }

    @SuppressWarnings("unchecked")
    private static <V> Map<String, V> map(Object value) {
        assertThat(value).isInstanceOf(Map.class);
        Map<String, V> out = new LinkedHashMap<>();
        ((Map<?, ?>) value).forEach((k, v) -> out.put(String.valueOf(k), (V) v));
        return out;
    }

    private static List<Object> list(Object value) {
        if (value == null) {
            return List.of();
        }
        assertThat(value).isInstanceOf(List.class);
        return new ArrayList<>((List<?>) value);
    }
}
