package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.chorus.ChorusConfig;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.TopologySpreadConstraint;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Renders {@code deploy/k8s} (base, every overlay, the ingress examples) with {@code kubectl kustomize}, parses each
 * object as its typed Kubernetes model and checks the settings the deployment promises.
 */
class KustomizeTest {

    static final List<String> OVERLAYS = List.of("postgres", "redis", "jgroups");
    private static final String SERVER_LABEL = "app.kubernetes.io/name";

    // Per test, not per class: surefire reports each test as skipped with the reason, not zero tests run.
    @BeforeEach
    void needsKubectl() {
        Assumptions.assumeTrue(
                Tools.onPath("kubectl").isPresent(),
                "kubectl is not on the PATH: install kubectl >= 1.27 (kustomize v5) to render deploy/k8s; Debian 12's"
                        + " kubernetes-client (1.20) is too old");
        Assumptions.assumeTrue(
                kubectlMinor() >= 27,
                "kubectl 1." + kubectlMinor() + " embeds a kustomize older than v5, which does not read"
                        + " deploy/k8s (patches, labels): install kubectl >= 1.27");
    }

    private static volatile Integer kubectlMinor;

    /** The kubectl client's minor version: Debian 12's kubernetes-client is 1.20, newer machine images carry 1.32. */
    private static int kubectlMinor() {
        if (kubectlMinor == null) {
            String json = Tools.run(
                    List.of(Tools.onPath("kubectl").orElseThrow().toString(), "version", "--client", "-o", "json"));
            java.util.regex.Matcher m =
                    java.util.regex.Pattern.compile("\"minor\":\\s*\"(\\d+)").matcher(json);
            kubectlMinor = m.find() ? Integer.parseInt(m.group(1)) : 0;
        }
        return kubectlMinor;
    }

    /**
     * The objects one overlay renders to, for cross-checks against the server's code (ManifestChecks).
     *
     * @param overlay {@code postgres}, {@code redis} or {@code jgroups}
     */
    static List<HasMetadata> overlay(String overlay) {
        return render("overlays/" + overlay);
    }

    /** Runs {@code kubectl kustomize deploy/k8s/<dir>} and parses its output. */
    static List<HasMetadata> render(String dir) {
        Path path = Tools.repoRoot().resolve("deploy/k8s").resolve(dir);
        String yaml =
                Tools.run(List.of(Tools.onPath("kubectl").orElseThrow().toString(), "kustomize", path.toString()));
        Object parsed = Serialization.unmarshal(yaml);
        List<HasMetadata> objects = new ArrayList<>();
        if (parsed instanceof List<?> list) {
            list.forEach(o -> objects.add((HasMetadata) o));
        } else if (parsed instanceof KubernetesList list) {
            objects.addAll(list.getItems());
        } else {
            objects.add((HasMetadata) parsed);
        }
        return objects;
    }

    @Test
    void base_rendersTypedObjectsWithTheHighAvailabilitySettings() {
        List<HasMetadata> objects = render("base");

        assertTyped(objects);
        assertThat(objects)
                .extracting(o -> o.getKind() + "/" + o.getMetadata().getName())
                .containsExactlyInAnyOrder(
                        "Deployment/chorus",
                        "Service/chorus",
                        "Service/chorus-headless",
                        "PodDisruptionBudget/chorus",
                        "NetworkPolicy/chorus");
        assertHighAvailability(objects);
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "redis", "jgroups"})
    void overlay_keepsTheBaseAndSetsItsBackplane(String name) {
        List<HasMetadata> objects = overlay(name);

        assertTyped(objects);
        assertHighAvailability(objects);
        Container container = container(objects);
        Map<String, EnvVar> env = env(container);
        assertThat(env.get("CHORUS_BACKPLANE").getValue()).isEqualTo(name);
        // Every clustered backplane keeps storage and membership in PostgreSQL: the server refuses to start without.
        assertSecretRef(env, "DATABASE_URL", "chorus-database", "url");
        assertSecretRef(env, "CHORUS_CLUSTER_SECRET", "chorus-cluster", "cluster-secret");
        if (name.equals("redis")) {
            assertSecretRef(env, "REDIS_URL", "chorus-redis", "url");
        } else {
            assertThat(env).doesNotContainKey("REDIS_URL");
        }
        ChorusConfig config = serverConfig(container);
        assertThat(config.backplane().name()).isEqualToIgnoringCase(name);
        ManifestChecks.assertAgreesWithServer(objects);
    }

    @Test
    void jgroupsOverlay_discoversPeersByDnsOnTheHeadlessService() {
        List<HasMetadata> objects = overlay("jgroups");
        Container container = container(objects);
        Map<String, EnvVar> env = env(container);
        Service headless = find(objects, Service.class, "chorus-headless");

        assertThat(env.get("CLUSTER_DISCOVERY").getValue()).isEqualTo("DNS");
        assertThat(env.get("CLUSTER_DNS_QUERY").getValue())
                .isEqualTo(headless.getMetadata().getName() + ".$(POD_NAMESPACE).svc.cluster.local");
        // Kubernetes expands $(VAR) only from variables defined earlier in the list.
        List<String> names = container.getEnv().stream().map(EnvVar::getName).toList();
        assertThat(names.indexOf("POD_NAMESPACE")).isNotNegative().isLessThan(names.indexOf("CLUSTER_DNS_QUERY"));
        assertThat(env.get("POD_NAMESPACE").getValueFrom().getFieldRef().getFieldPath())
                .isEqualTo("metadata.namespace");
        assertThat(env.get("CLUSTER_BIND_ADDRESS").getValueFrom().getFieldRef().getFieldPath())
                .isEqualTo("status.podIP");
        assertThat(env.get("CLUSTER_PORT").getValue()).isEqualTo("7800");
        assertThat(container.getPorts()).anySatisfy(p -> {
            assertThat(p.getName()).isEqualTo("jgroups");
            assertThat(p.getContainerPort()).isEqualTo(7800);
        });
        assertThat(headless.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getPort()).isEqualTo(7800);
            assertThat(p.getTargetPort().getIntVal()).isEqualTo(7800);
        });

        ChorusConfig config = serverConfig(container);
        assertThat(config.discovery()).isEqualTo(ChorusConfig.Discovery.DNS);
        assertThat(config.dnsQuery()).contains("chorus-headless.default.svc.cluster.local");
        assertThat(config.clusterPort()).isEqualTo(7800);
    }

    @Test
    void ingress_rendersNginxWithCookieAffinityOnWebSocketsAndATraefikStickyRoute() {
        List<HasMetadata> objects = render("ingress");

        assertTyped(objects);
        Ingress api = find(objects, Ingress.class, "chorus");
        Ingress ws = find(objects, Ingress.class, "chorus-ws");
        assertThat(api.getMetadata().getAnnotations()).doesNotContainKey("nginx.ingress.kubernetes.io/affinity");
        assertThat(ws.getSpec().getRules())
                .singleElement()
                .satisfies(rule -> assertThat(rule.getHttp().getPaths())
                        .singleElement()
                        .satisfies(path -> {
                            assertThat(path.getPath()).isEqualTo("/ws/");
                            assertThat(path.getBackend().getService().getName()).isEqualTo("chorus");
                            assertThat(path.getBackend().getService().getPort().getName())
                                    .isEqualTo("http");
                        }));
        Map<String, String> annotations = ws.getMetadata().getAnnotations();
        assertThat(annotations)
                .containsEntry("nginx.ingress.kubernetes.io/affinity", "cookie")
                .containsEntry("nginx.ingress.kubernetes.io/session-cookie-name", "CHORUS_REPLICA");
        // Longer than the server's ping interval (25 s), so nginx never closes a quiet live socket.
        for (String timeout : List.of("proxy-read-timeout", "proxy-send-timeout")) {
            assertThat(Integer.parseInt(annotations.get("nginx.ingress.kubernetes.io/" + timeout)))
                    .as(timeout)
                    .isGreaterThanOrEqualTo(3600);
        }

        GenericKubernetesResource route = objects.stream()
                .filter(o -> o.getKind().equals("IngressRoute"))
                .map(GenericKubernetesResource.class::cast)
                .findFirst()
                .orElseThrow();
        assertThat(route.getApiVersion()).isEqualTo("traefik.io/v1alpha1");
        List<Map<String, Object>> routes = route.get("spec", "routes");
        Map<String, Object> wsRoute = routes.stream()
                .filter(r -> String.valueOf(r.get("match")).contains("PathPrefix(`/ws/`)"))
                .findFirst()
                .orElseThrow();
        assertThat(wsRoute)
                .extractingByKey("services")
                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.LIST)
                .singleElement()
                .satisfies(s -> {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> service = (Map<String, Object>) s;
                    assertThat(service).containsEntry("name", "chorus").containsEntry("port", "http");
                    assertThat(service.get("sticky").toString()).contains("name=CHORUS_REPLICA");
                });
    }

    private static void assertHighAvailability(List<HasMetadata> objects) {
        Deployment deployment = find(objects, Deployment.class, "chorus");
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Container container = container(objects);

        assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
        assertThat(find(objects, Service.class, "chorus-headless").getSpec()).satisfies(spec -> {
            assertThat(spec.getClusterIP()).isEqualTo("None");
            assertThat(spec.getPublishNotReadyAddresses()).isTrue();
            assertThat(spec.getSelector())
                    .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
        });
        assertThat(find(objects, Service.class, "chorus").getSpec().getSelector())
                .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
        PodDisruptionBudget pdb = find(objects, PodDisruptionBudget.class, "chorus");
        assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
        assertThat(pdb.getSpec().getSelector()).isEqualTo(deployment.getSpec().getSelector());

        assertThat(pod.getTopologySpreadConstraints())
                .extracting(TopologySpreadConstraint::getTopologyKey, TopologySpreadConstraint::getWhenUnsatisfiable)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple("topology.kubernetes.io/zone", "ScheduleAnyway"),
                        org.assertj.core.groups.Tuple.tuple("kubernetes.io/hostname", "ScheduleAnyway"));
        assertThat(pod.getTopologySpreadConstraints())
                .allSatisfy(c -> assertThat(c.getLabelSelector())
                        .isEqualTo(deployment.getSpec().getSelector()));

        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        var security = container.getSecurityContext();
        assertThat(security.getRunAsNonRoot()).isTrue();
        assertThat(security.getRunAsUser()).isEqualTo(10001L);
        assertThat(security.getRunAsGroup()).isEqualTo(10001L);
        assertThat(security.getAllowPrivilegeEscalation()).isFalse();
        assertThat(security.getReadOnlyRootFilesystem()).isTrue();
        assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(security.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(security.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        // A read-only root needs /tmp writable: the only path the server writes.
        assertThat(container.getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getMountPath()).isEqualTo("/tmp");
            assertThat(pod.getVolumes())
                    .filteredOn(v -> v.getName().equals(m.getName()))
                    .singleElement()
                    .satisfies(v -> assertThat(v.getEmptyDir()).isNotNull());
        });
        assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(container.getResources().getLimits()).containsKey("memory");

        assertThat(container.getStartupProbe().getHttpGet().getPath()).isEqualTo("/health/started");
        assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/ready");
        assertThat(container.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health/live");
        assertThat(container.getReadinessProbe().getPeriodSeconds()).isEqualTo(5);
        assertThat(container.getReadinessProbe().getFailureThreshold()).isEqualTo(2);
        assertThat(container.getLivenessProbe().getFailureThreshold()).isEqualTo(6);
        assertThat(container.getStartupProbe().getFailureThreshold()).isEqualTo(60);
        int preStop =
                container.getLifecycle().getPreStop().getSleep().getSeconds().intValue();
        assertThat(preStop).isEqualTo(5);
        int drain = (int) serverConfig(container).drainDelay().toSeconds();
        assertThat(pod.getTerminationGracePeriodSeconds())
                .isGreaterThan(preStop + drain + dev.chorus.server.ChorusServer.CLOSE_BUDGET.toSeconds());

        assertSecretRef(env(container), "CHORUS_CLUSTER_SECRET", "chorus-cluster", "cluster-secret");
        assertMountedSecret(pod, container, "CHORUS_JWT_PRIVATE_KEY_FILE", "chorus-signing-key", "private-key.pem");
        assertMountedSecret(pod, container, "CHORUS_CLIENTS_FILE", "chorus-clients", "clients.json");

        assertNetworkPolicy(find(objects, NetworkPolicy.class, "chorus"), deployment);
    }

    private static void assertNetworkPolicy(NetworkPolicy policy, Deployment deployment) {
        var spec = policy.getSpec();
        assertThat(spec.getPodSelector()).isEqualTo(deployment.getSpec().getSelector());
        assertThat(spec.getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
        // HTTP from anywhere: a rule with the port and no "from".
        assertThat(spec.getIngress()).anySatisfy(rule -> {
            assertThat(rule.getFrom()).isNullOrEmpty();
            assertThat(ports(rule.getPorts())).containsExactly("TCP/8080");
        });
        // The mesh port and FD_SOCK2's (port + 100) only from and to the replicas themselves.
        assertThat(spec.getIngress()).anySatisfy(rule -> {
            assertThat(rule.getFrom())
                    .singleElement()
                    .satisfies(peer -> assertThat(peer.getPodSelector())
                            .isEqualTo(deployment.getSpec().getSelector()));
            assertThat(ports(rule.getPorts())).containsExactlyInAnyOrder("TCP/7800", "TCP/7900");
        });
        assertThat(spec.getEgress()).anySatisfy(rule -> {
            assertThat(rule.getTo())
                    .singleElement()
                    .satisfies(peer -> assertThat(peer.getPodSelector())
                            .isEqualTo(deployment.getSpec().getSelector()));
            assertThat(ports(rule.getPorts())).containsExactlyInAnyOrder("TCP/7800", "TCP/7900");
        });
        List<String> egress = spec.getEgress().stream()
                .flatMap(rule -> ports(rule.getPorts()).stream())
                .toList();
        assertThat(egress).contains("TCP/5432", "TCP/6379", "UDP/53", "TCP/53");
    }

    private static List<String> ports(List<NetworkPolicyPort> ports) {
        return ports.stream()
                .map(p -> p.getProtocol() + "/" + p.getPort().getIntVal())
                .toList();
    }

    private static void assertSecretRef(Map<String, EnvVar> env, String name, String secret, String key) {
        assertThat(env).containsKey(name);
        var ref = env.get(name).getValueFrom().getSecretKeyRef();
        assertThat(ref.getName() + "/" + ref.getKey()).as(name).isEqualTo(secret + "/" + key);
    }

    private static void assertMountedSecret(
            PodSpec pod, Container container, String variable, String secret, String key) {
        Path file = Path.of(env(container).get(variable).getValue());
        var mount = container.getVolumeMounts().stream()
                .filter(m -> Path.of(m.getMountPath()).equals(file.getParent()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(variable + "=" + file + " is on no volume mount"));
        assertThat(mount.getReadOnly()).as(variable + " mount read-only").isTrue();
        var volume = pod.getVolumes().stream()
                .filter(v -> v.getName().equals(mount.getName()))
                .findFirst()
                .orElseThrow();
        assertThat(volume.getSecret().getSecretName()).isEqualTo(secret);
        assertThat(volume.getSecret().getItems()).anySatisfy(item -> {
            assertThat(item.getKey()).isEqualTo(key);
            assertThat(item.getPath()).isEqualTo(file.getFileName().toString());
        });
    }

    /**
     * Reads the container's env the way the server does, with each Secret and field reference given a plausible
     * value and {@code $(VAR)} expanded as the kubelet does: a value the server refuses fails here.
     */
    static ChorusConfig serverConfig(Container container) {
        Map<String, String> values = new LinkedHashMap<>();
        Map<String, String> stand_ins = Map.of(
                "chorus-cluster/cluster-secret", "0123456789abcdef0123456789abcdef",
                "chorus-database/url", "postgres://chorus:secret@db.internal:5432/chorus",
                "chorus-redis/url", "redis://redis.internal:6379/0",
                "metadata.name", "chorus-7c9f-abcde",
                "metadata.namespace", "default",
                "status.podIP", "10.0.0.7");
        for (EnvVar var : container.getEnv()) {
            String value;
            if (var.getValueFrom() == null) {
                value = expand(var.getValue(), values);
            } else if (var.getValueFrom().getSecretKeyRef() != null) {
                var ref = var.getValueFrom().getSecretKeyRef();
                value = stand_ins.get(ref.getName() + "/" + ref.getKey());
            } else {
                value = stand_ins.get(var.getValueFrom().getFieldRef().getFieldPath());
            }
            assertThat(value).as("a value for " + var.getName()).isNotNull();
            values.put(var.getName(), value);
        }
        return ChorusConfig.from(values::get);
    }

    private static String expand(String value, Map<String, String> earlier) {
        Matcher m = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)").matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String replacement = earlier.get(m.group(1));
            assertThat(replacement).as("$(" + m.group(1) + ") defined earlier").isNotNull();
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        return m.appendTail(out).toString();
    }

    /**
     * Each object is its typed model (only CRDs stay generic), and no field was unknown to it: the models keep
     * unknown fields in {@code additionalProperties}, which is where a misspelled key would land.
     */
    private static void assertTyped(List<HasMetadata> objects) {
        assertThat(objects).isNotEmpty();
        for (HasMetadata object : objects) {
            if (object.getKind().equals("IngressRoute")) {
                assertThat(object).isInstanceOf(GenericKubernetesResource.class);
                continue;
            }
            assertThat(object)
                    .as(object.getKind() + "/" + object.getMetadata().getName())
                    .isNotInstanceOf(GenericKubernetesResource.class);
            List<String> unknown = new ArrayList<>();
            Unknown.collect(object, object.getKind(), unknown);
            assertThat(unknown).as("fields the model does not know").isEmpty();
        }
    }

    private static Container container(List<HasMetadata> objects) {
        List<Container> containers = find(objects, Deployment.class, "chorus")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers();
        assertThat(containers).hasSize(1);
        return containers.getFirst();
    }

    private static Map<String, EnvVar> env(Container container) {
        Map<String, EnvVar> env = new HashMap<>();
        for (EnvVar var : container.getEnv()) {
            if (env.put(var.getName(), var) != null) {
                fail("env " + var.getName() + " is set twice");
            }
        }
        return env;
    }

    private static <T extends HasMetadata> T find(List<HasMetadata> objects, Class<T> type, String name) {
        return objects.stream()
                .filter(type::isInstance)
                .filter(o -> o.getMetadata().getName().equals(name))
                .map(type::cast)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name + " in " + objects));
    }

    /** Walks a fabric8 model and names every non-empty {@code additionalProperties}. */
    private static final class Unknown {
        static void collect(Object node, String where, List<String> found) {
            if (node == null) {
                return;
            }
            if (node instanceof List<?> list) {
                for (int i = 0; i < list.size(); i++) {
                    collect(list.get(i), where + "[" + i + "]", found);
                }
                return;
            }
            if (node instanceof Map<?, ?> map) {
                map.forEach((k, v) -> collect(v, where + "." + k, found));
                return;
            }
            if (!node.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
                return;
            }
            for (var method : node.getClass().getMethods()) {
                if (method.getParameterCount() != 0
                        || !method.getName().startsWith("get")
                        || method.getDeclaringClass() == Object.class) {
                    continue;
                }
                Object value;
                try {
                    value = method.invoke(node);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
                if (method.getName().equals("getAdditionalProperties")) {
                    if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                        found.add(where + ": " + extra.keySet());
                    }
                } else {
                    collect(value, where + "." + method.getName().substring(3), found);
                }
            }
        }
    }

    /** Finding tools and the repository, and running a tool to its end. */
    static final class Tools {
        private Tools() {}

        static Optional<Path> onPath(String tool) {
            String path = Optional.ofNullable(System.getenv("PATH")).orElse("");
            return Stream.of(path.split(java.io.File.pathSeparator))
                    .filter(dir -> !dir.isBlank())
                    .map(dir -> Path.of(dir, tool))
                    .filter(Files::isExecutable)
                    .findFirst();
        }

        /** The repository root. */
        static Path repoRoot() {
            return Repo.root();
        }

        /** Runs a command in the working directory and returns its stdout; fails with its stderr if it fails. */
        static String run(List<String> command) {
            return run(command, null, Map.of());
        }

        static String run(List<String> command, Path dir, Map<String, String> env) {
            try {
                Path out = Files.createTempFile("chorus-deploy", ".out");
                Path err = Files.createTempFile("chorus-deploy", ".err");
                try {
                    ProcessBuilder builder = new ProcessBuilder(command)
                            .redirectOutput(out.toFile())
                            .redirectError(err.toFile());
                    if (dir != null) {
                        builder.directory(dir.toFile());
                    }
                    builder.environment().putAll(env);
                    Process process = builder.start();
                    if (!process.waitFor(120, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        fail(String.join(" ", command) + " did not finish in 120 s");
                    }
                    String stderr = Files.readString(err, StandardCharsets.UTF_8);
                    if (process.exitValue() != 0) {
                        fail(String.join(" ", command) + " exited with " + process.exitValue() + ":\n" + stderr);
                    }
                    return Files.readString(out, StandardCharsets.UTF_8);
                } finally {
                    Files.deleteIfExists(out);
                    Files.deleteIfExists(err);
                }
            } catch (IOException e) {
                throw new IllegalStateException("could not run " + command, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
