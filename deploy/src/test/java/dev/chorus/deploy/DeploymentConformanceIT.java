package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.testkit.TestPostgres;
import dev.chorus.testkit.TestSecrets;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm chart's Deployment, for real: three replica processes started with exactly its environment,
 * arguments and ports on the local PostgreSQL, driven by its declared probes, checked by its {@code helm test}
 * pod's command, and stopped the way the kubelet stops a pod (pre-stop pause, then SIGTERM, within the grace
 * period). The cluster stand-ins are stated in {@link PodProcess}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeploymentConformanceIT {

    private static final String DATABASE = "chorus_deploy_conformance";
    private static final String OPERATOR_ID = "ops";
    private static final String OPERATOR_SECRET = "operator-secret-for-the-conformance-test-0123";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path volumes;

    private static Deployment deployment;
    private static Pod testPod;
    private static PodProcess.Cluster cluster;
    private static int httpPort;
    private static final List<PodProcess> replicas = new ArrayList<>();
    private static final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void startTheDeploymentsReplicas() throws Exception {
        List<HasMetadata> objects = HelmRender.render("ci/postgres-values.yaml", Map.of());
        deployment = only(objects, Deployment.class);
        testPod = only(objects, Pod.class);
        cluster = new PodProcess.Cluster(secrets(), volumes);
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Container server = pod.getContainers().getFirst();
        httpPort = server.getPorts().stream()
                .filter(p -> "http".equals(p.getName()))
                .findFirst()
                .orElseThrow()
                .getContainerPort();
        int replicaCount = deployment.getSpec().getReplicas();
        assertThat(replicaCount).as("the postgres values run an HA cluster").isEqualTo(3);
        for (int i = 0; i < replicaCount; i++) {
            String address = address(i);
            replicas.add(PodProcess.start(pod, server, "chorus-" + i, address, cluster, address));
        }
    }

    @AfterAll
    static void stop() {
        replicas.forEach(PodProcess::close);
    }

    private static String address(int replica) {
        return "127.0.0." + (replica + 2);
    }

    private static <T> T only(List<HasMetadata> objects, Class<T> type) {
        List<T> found =
                objects.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(found).as("one " + type.getSimpleName() + " rendered").hasSize(1);
        return found.getFirst();
    }

    /** The Secrets the chart references, as an operator would create them, on a database of the test's own. */
    private static Map<String, Map<String, String>> secrets() throws Exception {
        TestPostgres postgres = TestPostgres.server();
        try (Connection c = postgres.connect();
                Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + DATABASE + " WITH (FORCE)");
            s.execute("CREATE DATABASE " + DATABASE);
        }
        String password = postgres.password();
        String url = "postgres://" + postgres.user() + (password == null || password.isEmpty() ? "" : ":" + password)
                + "@" + postgres.host() + ":" + postgres.port() + "/" + DATABASE;
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        String key = SigningKey.toPem(generator.generateKeyPair().getPrivate());
        String clients = "[{\"id\":\"" + OPERATOR_ID + "\",\"secretHash\":\"" + Clients.hash(OPERATOR_SECRET)
                + "\",\"user\":\"ops\",\"tenant\":\"acme\",\"roles\":[\"reader\",\"operator\"]}]";
        return Map.of(
                "chorus-database", Map.of("url", url),
                "chorus-cluster", Map.of("cluster-secret", TestSecrets.VALUE),
                "chorus-signing-key", Map.of("private-key.pem", key),
                "chorus-clients", Map.of("clients.json", clients),
                "chorus-verify", Map.of("client-id", OPERATOR_ID, "client-secret", OPERATOR_SECRET));
    }

    @Test
    @Order(1)
    void theDeclaredProbesSeeEveryReplicaStartThenStayLiveAndReady() {
        Container server =
                deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();
        for (int i = 0; i < replicas.size(); i++) {
            PodProcess replica = replicas.get(i);
            String host = address(i);
            Probe startup = server.getStartupProbe();
            // As the kubelet does: every periodSeconds, at most failureThreshold times.
            await("startup probe of " + replica.name())
                    .atMost(Duration.ofSeconds((long) period(startup) * threshold(startup)))
                    .pollInterval(Duration.ofSeconds(period(startup)))
                    .until(() ->
                            probe(host, startup) == 200 || !replica.process().isAlive());
            assertThat(replica.process().isAlive())
                    .as(replica.name() + " is running: " + replica.output())
                    .isTrue();
            assertThat(probe(host, server.getLivenessProbe())).isEqualTo(200);
            Probe readiness = server.getReadinessProbe();
            await("readiness probe of " + replica.name())
                    .atMost(Duration.ofSeconds((long) period(readiness) * threshold(readiness)))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> probe(host, readiness) == 200);
        }
    }

    @Test
    @Order(2)
    void theHelmTestPodsCommandPassesAgainstTheThreeReplicas() throws Exception {
        Container verify = testPod.getSpec().getContainers().getFirst();
        // The test pod reaches the replicas through the Service; here the Service is the first replica's address.
        String service = deployment.getMetadata().getName();
        List<String> args = verify.getArgs().stream()
                .map(a -> a.replace("://" + service + ":", "://" + address(0) + ":"))
                .toList();
        assertThat(args).as("the helm test pod runs the verify command").startsWith("verify");
        Container command = new Container();
        command.setName(verify.getName());
        command.setEnv(verify.getEnv());
        command.setArgs(args);
        command.setVolumeMounts(verify.getVolumeMounts());
        try (PodProcess pod =
                PodProcess.start(testPod.getSpec(), command, "chorus-test", address(5), cluster, address(5))) {
            assertThat(pod.process().waitFor(90, TimeUnit.SECONDS)).isTrue();
            String output = String.join("\n", pod.output());
            assertThat(pod.process().exitValue()).as(output).isZero();
            assertThat(output).contains("cluster verify passed").doesNotContain("FAIL ");
        }
        JsonNode view = clusterView(address(1));
        assertThat(view.path("live").asInt()).as(view.toString()).isEqualTo(3);
    }

    @Test
    @Order(3)
    void aTerminatedReplicaFailsReadinessAtOnceClosesItsSocketsWith1012AndExitsZeroWithinTheGracePeriod()
            throws Exception {
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Container server = pod.getContainers().getFirst();
        long grace = Objects.requireNonNullElse(pod.getTerminationGracePeriodSeconds(), 30L);
        long preStop = ManifestChecks.preStopSeconds(server);
        assertThat(preStop).as("the chart declares a pre-stop pause").isPositive();
        int last = replicas.size() - 1;
        PodProcess replica = replicas.get(last);
        String host = address(last);
        CompletableFuture<Integer> closeCode = openEventsSocket(host, token(host));

        // The kubelet runs the pre-stop pause, during which the replica serves as usual, then sends SIGTERM;
        // from then the replica has what is left of the grace period.
        long terminated = System.nanoTime();
        replica.terminate();
        await("readiness fails at once")
                .atMost(Duration.ofSeconds(2))
                .until(() -> probe(host, server.getReadinessProbe()) == 503);
        assertThat(probe(host, server.getLivenessProbe()))
                .as("still live while draining")
                .isEqualTo(200);
        boolean exited = replica.process().waitFor(grace - preStop, TimeUnit.SECONDS);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - terminated);
        assertThat(exited)
                .as(replica.name() + " exits within the grace period less the pre-stop pause (" + (grace - preStop)
                        + " s): " + replica.output())
                .isTrue();
        assertThat(replica.process().exitValue()).as("exit code after a drain").isZero();
        assertThat(closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(ChorusServer.DRAIN_CLOSE_CODE);
        System.out.printf(
                "replica drained and exited %d ms after SIGTERM (grace %d s, preStop %d s)%n", took, grace, preStop);
        await("the others see it leave")
                .atMost(Duration.ofSeconds(30))
                .until(() -> clusterView(address(0)).path("live").asInt() == 2);
    }

    private static int period(Probe probe) {
        return Objects.requireNonNullElse(probe.getPeriodSeconds(), 10);
    }

    private static int threshold(Probe probe) {
        return Objects.requireNonNullElse(probe.getFailureThreshold(), 3);
    }

    private static int probe(String host, Probe probe) {
        // ManifestChecks holds the probes' ports to the http port; the kubelet resolves a named port the same way.
        return ReplicaApi.status(
                base(host),
                probe.getHttpGet().getPath(),
                Duration.ofSeconds(Objects.requireNonNullElse(probe.getTimeoutSeconds(), 1)));
    }

    private static URI base(String host) {
        return URI.create("http://" + host + ":" + httpPort);
    }

    private static String token(String host) {
        return ReplicaApi.token(base(host), OPERATOR_ID, OPERATOR_SECRET);
    }

    private static JsonNode clusterView(String host) {
        return ReplicaApi.cluster(base(host), token(host));
    }

    /** An events socket; the future completes with the close code the server sends. */
    private static CompletableFuture<Integer> openEventsSocket(String host, String token) {
        CompletableFuture<Integer> closed = new CompletableFuture<>();
        CompletableFuture<Void> hello = new CompletableFuture<>();
        http.newWebSocketBuilder()
                .buildAsync(
                        URI.create("ws://" + host + ":" + httpPort + "/ws/events?access_token="
                                + URLEncoder.encode(token, StandardCharsets.UTF_8)),
                        new WebSocket.Listener() {
                            @Override
                            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                                hello.complete(null);
                                ws.request(1);
                                return null;
                            }

                            @Override
                            public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
                                closed.complete(statusCode);
                                return null;
                            }

                            @Override
                            public void onError(WebSocket ws, Throwable error) {
                                closed.completeExceptionally(error);
                            }
                        })
                .join();
        hello.orTimeout(10, TimeUnit.SECONDS).join();
        return closed;
    }
}
