package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.testkit.LoopbackPorts;
import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestSecrets;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds {@code deploy/docker/Dockerfile} with podman on base images made from this machine's JDK (no registry is
 * reachable), runs two replicas of it on the local PostgreSQL the way an orchestrator would (read-only root,
 * {@code /tmp} the only writable path, secrets mounted read-only) and checks they form one cluster, run as the
 * image's non-root user, answer the image's HEALTHCHECK, and drain on {@code podman stop}.
 *
 * <p>Skips, with the reason, where podman cannot run: not installed, not root, or {@code podman info} failing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerImageIT {

    private static final Logger LOG = LoggerFactory.getLogger(ContainerImageIT.class);

    private static final String RUN = UUID.randomUUID().toString().substring(0, 8);
    private static final String IMAGE = "localhost/chorus-server:it-" + RUN;
    private static final String BUILD_BASE = "localhost/chorus-it-jdk:" + RUN;
    private static final String RUNTIME_BASE = "localhost/chorus-it-jre:" + RUN;
    private static final String SECRET = "container-image-it-" + UUID.randomUUID();
    private static final String OPERATOR = "operator-app";
    /** Long enough to see readiness fail before the sockets close, short enough to keep the test quick. */
    private static final Duration DRAIN_DELAY = Duration.ofSeconds(3);

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Podman podman;
    private static Path work;
    private static TestPostgres.Schema schema;
    private static final List<String> images = new ArrayList<>();
    private static final Map<String, Integer> replicas = new LinkedHashMap<>();

    @BeforeAll
    static void buildImageAndStartTwoReplicas() throws Exception {
        podman = Podman.usable();
        Path repo = Repo.root();
        Path jdk = Path.of(System.getProperty("java.home"));
        Assumptions.assumeTrue(
                Files.isExecutable(jdk.resolve("bin/jlink")),
                "the test JVM (" + jdk + ") has no jlink to make the local base image; run the tests on a JDK");
        // The build stage runs Maven offline against this machine's repository and wrapper distribution.
        Path m2 = Path.of(System.getProperty("user.home"), ".m2");
        Assumptions.assumeTrue(
                Files.isDirectory(m2.resolve("wrapper/dists")),
                "no Maven wrapper distribution in " + m2 + " for the offline image build; run ./mvnw once");
        work = Files.createTempDirectory("chorus-image-it");
        long start = System.nanoTime();

        // Listed before they exist, so a failure half-way still removes whatever was made.
        images.add(IMAGE);
        images.add(RUNTIME_BASE);
        images.add(BUILD_BASE);
        Podman.Result bases = podman.exec(
                "base-images",
                Duration.ofMinutes(5),
                List.of(
                        "bash",
                        repo.resolve("deploy/docker/local-base-images.sh").toString(),
                        "--runtime",
                        RUNTIME_BASE,
                        "--build",
                        BUILD_BASE),
                Map.of("JAVA_HOME", jdk.toString(), "PODMAN", String.join(" ", podman.prefix())));
        assertThat(bases.exit()).as("local-base-images.sh:\n%s", bases.output()).isZero();
        long based = System.nanoTime();

        // --layers=false leaves no image of the build stage behind; --format docker keeps the HEALTHCHECK.
        podman.run(
                Duration.ofMinutes(10),
                "build",
                "--network",
                "host",
                "--layers=false",
                "--format",
                "docker",
                "-f",
                repo.resolve("deploy/docker/Dockerfile").toString(),
                // The host's repository over the Dockerfile's cache mount, as an overlay: nothing is written back.
                "-v",
                m2 + ":/root/.m2:O",
                "--build-arg",
                "MAVEN_ARGS=-o",
                "--build-arg",
                "BUILD_IMAGE=" + BUILD_BASE,
                "--build-arg",
                "BASE_IMAGE=" + RUNTIME_BASE,
                "-t",
                IMAGE,
                repo.toString());
        long built = System.nanoTime();
        LOG.info(
                "Base images in {} s, chorus image in {} s",
                (based - start) / 1_000_000_000,
                (built - based) / 1_000_000_000);

        Path key = readOnlyFile("private-key.pem", newKeyPem());
        Path clients = readOnlyFile(
                "clients.json",
                "[{\"id\":\"" + OPERATOR + "\",\"secretHash\":\"" + Clients.hash(SECRET)
                        + "\",\"user\":\"ops\",\"tenant\":\"acme\",\"roles\":[\"reader\",\"operator\"]}]");
        schema = TestPostgres.server().newSchema("image");
        String channel = schema.uniqueChannel("image");
        for (String name : List.of("a", "b")) {
            String container = "chorus-it-" + RUN + "-" + name;
            int port = LoopbackPorts.free(0);
            replicas.put(container, port);
            podman.run(
                    Duration.ofMinutes(1),
                    "run",
                    "-d",
                    "--name",
                    container,
                    // Host networking: the sandbox has no container networks, and the replicas reach PostgreSQL
                    // on loopback; each gets a port of its own since they share the host's.
                    "--network",
                    "host",
                    "--read-only",
                    "--tmpfs",
                    "/tmp",
                    // No systemd here to time the HEALTHCHECK; the test runs it by hand.
                    "--health-interval",
                    "disable",
                    "-v",
                    key + ":/etc/chorus/signing/private-key.pem:ro",
                    "-v",
                    clients + ":/etc/chorus/clients/clients.json:ro",
                    "-e",
                    "CHORUS_BACKPLANE=postgres",
                    "-e",
                    "DATABASE_URL=" + TestPostgres.server().jdbcUrl(),
                    "-e",
                    "CHORUS_STORAGE_SCHEMA=" + schema.name(),
                    "-e",
                    "CHORUS_CHANNEL=" + channel,
                    "-e",
                    "CHORUS_CLUSTER_SECRET=" + TestSecrets.VALUE,
                    "-e",
                    "CHORUS_JWT_PRIVATE_KEY_FILE=/etc/chorus/signing/private-key.pem",
                    "-e",
                    "CHORUS_CLIENTS_FILE=/etc/chorus/clients/clients.json",
                    "-e",
                    "CHORUS_REPLICA_NAME=" + container,
                    "-e",
                    "CHORUS_DRAIN_DELAY=" + DRAIN_DELAY.toMillis() + "ms",
                    "-e",
                    "CHORUS_HTTP_HOST=127.0.0.1",
                    "-e",
                    "PORT=" + port,
                    IMAGE);
        }
    }

    @AfterAll
    static void removeContainersAndImages() throws Exception {
        if (podman == null) {
            return;
        }
        for (String container : replicas.keySet()) {
            Podman.Result logs = podman.tryRun(Duration.ofSeconds(30), "logs", container);
            Files.writeString(logDirectory().resolve(container + ".log"), logs.output());
            podman.tryRun(Duration.ofMinutes(1), "rm", "-f", "-t", "0", container);
        }
        for (String image : images) {
            podman.tryRun(Duration.ofMinutes(1), "rmi", "-f", image);
        }
        Files.deleteIfExists(podman.conf);
        if (schema != null) {
            schema.close();
        }
        if (work != null) {
            try (Stream<Path> files = Files.walk(work)) {
                files.sorted(Comparator.reverseOrder())
                        .forEach(path -> path.toFile().delete());
            }
        }
    }

    @Test
    @Order(1)
    void image_declaresNonRootUserPortsExecEntrypointHealthcheckAndLabels() throws Exception {
        JsonNode image = JSON.readTree(podman.run(Duration.ofSeconds(30), "image", "inspect", IMAGE)
                        .output())
                .get(0);
        JsonNode config = image.get("Config");
        assertThat(config.get("User").asText()).isEqualTo("10001:10001");
        assertThat(config.get("ExposedPorts").has("8080/tcp")).isTrue();
        assertThat(config.get("ExposedPorts").has("7800/tcp")).isTrue();
        List<String> entrypoint = strings(config.get("Entrypoint"));
        assertThat(entrypoint).first().isEqualTo("java");
        assertThat(entrypoint).contains("-XX:MaxRAMPercentage=75").endsWith("-jar", "/app/chorus-server.jar");
        assertThat(strings(config.get("Env"))).contains("PORT=8080", "CLUSTER_PORT=7800");
        assertThat(strings(image.get("Healthcheck").get("Test")))
                .startsWith("CMD", "java")
                .endsWith("-jar", "/app/chorus-server.jar", "health");
        JsonNode labels = config.get("Labels");
        assertThat(labels.get("org.opencontainers.image.title").asText()).isEqualTo("chorus-server");
        assertThat(labels.has("org.opencontainers.image.version")).isTrue();
        assertThat(labels.get("dev.chorus.image.writable-paths").asText()).isEqualTo("/tmp");
    }

    @Test
    @Order(2)
    void twoContainers_becomeReady_andSeeEachOther() throws Exception {
        for (int port : replicas.values()) {
            await("ready on " + port)
                    .atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> status(port, "/health/ready") == 200);
        }
        for (int port : replicas.values()) {
            String token = operatorToken(port);
            await("two live members seen from " + port)
                    .atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> cluster(port, token).get("live").asInt() == 2);
            JsonNode members = cluster(port, token).get("members");
            assertThat(members).hasSize(2);
        }
    }

    @Test
    @Order(3)
    void process_runsAsNonRootUser() throws Exception {
        for (String container : replicas.keySet()) {
            long pid = Long.parseLong(
                    podman.run(Duration.ofSeconds(30), "inspect", "--format", "{{.State.Pid}}", container)
                            .output()
                            .strip());
            // The container's main process seen from the host: the JVM itself (exec-form entrypoint), as 10001.
            Path proc = Path.of("/proc", Long.toString(pid));
            assertThat(Files.readString(proc.resolve("comm")).strip()).isEqualTo("java");
            List<String> status = Files.readAllLines(proc.resolve("status"));
            assertThat(status).contains("Uid:\t10001\t10001\t10001\t10001", "Gid:\t10001\t10001\t10001\t10001");
        }
    }

    @Test
    @Order(4)
    void healthcheck_passesOnARunningReplica() throws Exception {
        String container = replicas.keySet().iterator().next();
        await().atMost(Duration.ofMinutes(2)).until(() -> status(replicas.get(container), "/health/live") == 200);
        Podman.Result check = podman.tryRun(Duration.ofSeconds(60), "healthcheck", "run", container);
        assertThat(check.exit())
                .as("podman healthcheck run: %s", check.output())
                .isZero();
    }

    @Test
    @Order(5)
    void stop_drainsAndExitsZero() throws Exception {
        List<String> names = new ArrayList<>(replicas.keySet());
        String stopped = names.get(1);
        int stoppedPort = replicas.get(stopped);
        int survivorPort = replicas.get(names.get(0));
        await().atMost(Duration.ofMinutes(2)).until(() -> status(stoppedPort, "/health/ready") == 200);
        String token = operatorToken(survivorPort);

        long start = System.nanoTime();
        Process stop = podman.start("stop", "-t", "40", stopped);
        // Readiness fails at once while the replica still serves, so load balancers can move away first.
        await("not ready while draining")
                .atMost(DRAIN_DELAY)
                .pollInterval(Duration.ofMillis(50))
                .until(() -> status(stoppedPort, "/health/ready") == 503);
        assertThat(stop.waitFor(60, TimeUnit.SECONDS))
                .as("podman stop returned")
                .isTrue();
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        LOG.info("podman stop took {} ms", took.toMillis());
        assertThat(stop.exitValue()).isZero();

        JsonNode state = JSON.readTree(
                        podman.run(Duration.ofSeconds(30), "inspect", stopped).output())
                .get(0)
                .get("State");
        assertThat(state.get("Status").asText()).isEqualTo("exited");
        assertThat(state.get("ExitCode").asInt()).as("exit code").isZero();
        assertThat(took).isGreaterThanOrEqualTo(DRAIN_DELAY).isLessThan(Duration.ofSeconds(40));
        String logs = podman.run(Duration.ofSeconds(30), "logs", stopped).output();
        assertThat(logs)
                .contains("SIGTERM received: draining")
                .contains("Draining: readiness fails from now on")
                .contains("Drained; exiting");
        // It left membership on its way out rather than timing out of it.
        await("survivor sees one live member")
                .atMost(Duration.ofSeconds(15))
                .until(() -> cluster(survivorPort, token).get("live").asInt() == 1);
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(node -> values.add(node.asText()));
        return values;
    }

    /** A file the container's user (10001, not the owner) can read and nobody can change. */
    private static Path readOnlyFile(String name, String content) throws IOException {
        Path file = Files.writeString(work.resolve(name), content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        return file;
    }

    private static String newKeyPem() throws NoSuchAlgorithmException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(SigningKey.MIN_BITS);
        return SigningKey.toPem(generator.generateKeyPair().getPrivate());
    }

    private static Path logDirectory() throws IOException {
        return Files.createDirectories(Repo.root().resolve("deploy/target/container-image-it/" + RUN));
    }

    /**
     * podman as this machine runs it: runc (crun fails on hybrid cgroups) and a containers.conf without default
     * ulimits (the sandbox refuses them). Output of every command goes to a log file under deploy/target.
     */
    private static final class Podman {

        private final Path conf;

        private Podman(Path conf) {
            this.conf = conf;
        }

        record Result(int exit, String output) {}

        /** A podman that can run containers here, or an assumption failure that says why not. */
        static Podman usable() throws IOException, InterruptedException {
            boolean onPath = Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                    .anyMatch(dir -> Files.isExecutable(Path.of(dir, "podman")));
            Assumptions.assumeTrue(onPath, "podman is not installed (Debian: apt-get install podman runc)");
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            Assumptions.assumeTrue(
                    Integer.valueOf(0).equals(uid), "podman runs containers here only as root; uid is " + uid);
            Path conf = Files.createTempFile("chorus-containers", ".conf");
            Files.writeString(conf, "[containers]\ndefault_ulimits = []\n");
            Podman podman = new Podman(conf);
            Result info = podman.tryRun(Duration.ofMinutes(1), "info");
            Assumptions.assumeTrue(info.exit() == 0, "podman info failed: " + info.output());
            return podman;
        }

        List<String> prefix() {
            return List.of("podman", "--runtime", "runc");
        }

        Result run(Duration timeout, String... args) throws IOException, InterruptedException {
            Result result = tryRun(timeout, args);
            assertThat(result.exit())
                    .as("podman %s:\n%s", args[0], tail(result.output()))
                    .isZero();
            return result;
        }

        Result tryRun(Duration timeout, String... args) throws IOException, InterruptedException {
            List<String> command = new ArrayList<>(prefix());
            command.addAll(List.of(args));
            return exec(args[0], timeout, command, Map.of());
        }

        /** Runs {@code command} with podman's environment plus {@code env}, its output logged as {@code name}. */
        Result exec(String name, Duration timeout, List<String> command, Map<String, String> env)
                throws IOException, InterruptedException {
            Path log = Files.createTempFile(logDirectory(), name + "-", ".log");
            ProcessBuilder builder =
                    new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put("CONTAINERS_CONF", conf.toString());
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
                throw new AssertionError(command + " did not finish in " + timeout + "; output in " + log);
            }
            return new Result(process.exitValue(), Files.readString(log));
        }

        /** Starts a podman command in the background, its output appended to the test log directory. */
        Process start(String... args) throws IOException {
            List<String> command = new ArrayList<>(prefix());
            command.addAll(List.of(args));
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(
                            logDirectory().resolve(args[0] + ".log").toFile()));
            builder.environment().put("CONTAINERS_CONF", conf.toString());
            return builder.start();
        }

        private static String tail(String output) {
            return output.length() <= 4000 ? output : "…" + output.substring(output.length() - 4000);
        }
    }

    private static int status(int port, String path) {
        return ReplicaApi.status(local(port), path, Duration.ofSeconds(2));
    }

    private static String operatorToken(int port) {
        return ReplicaApi.token(local(port), OPERATOR, SECRET);
    }

    private static JsonNode cluster(int port, String token) {
        return ReplicaApi.cluster(local(port), token);
    }

    private static URI local(int port) {
        return URI.create("http://127.0.0.1:" + port);
    }
}
