package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.ChorusConfig;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.ServerConfig;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that rendered manifests agree with the server's own code, so the two cannot drift: every environment
 * name is one the server reads and the whole environment is a configuration the server accepts; the probes are
 * paths the server serves, on the port it listens on; the JGroups port is the same everywhere; the grace period
 * outlasts the pre-stop pause, the drain delay and the close; the pod runs as the image's non-root user.
 */
final class ManifestChecks {

    /** Kubernetes' default when a pod says nothing. */
    static final long DEFAULT_GRACE_SECONDS = 30;

    /** Kubernetes' dependent environment variables: {@code $(NAME)} in a value is an earlier variable's value. */
    private static final Pattern EXPANSION = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private static final Pattern DOCKERFILE_USER = Pattern.compile("(?m)^USER\\s+(\\S+)\\s*$");

    private ManifestChecks() {}

    /** Checks every Deployment and Pod in {@code objects}, and the Services that route to them. */
    static void assertAgreesWithServer(List<HasMetadata> objects) {
        List<Deployment> deployments = objects.stream()
                .filter(Deployment.class::isInstance)
                .map(Deployment.class::cast)
                .toList();
        assertThat(deployments).as("a Deployment among the rendered objects").isNotEmpty();
        for (Deployment deployment : deployments) {
            PodSpec pod = deployment.getSpec().getTemplate().getSpec();
            Container server = pod.getContainers().getFirst();
            String where = "Deployment " + deployment.getMetadata().getName();
            assertEnvironment(server, where);
            int http = assertHttpPortAndProbes(server, where);
            assertGracePeriod(pod, server, where);
            assertNonRoot(pod, server, where);
            assertServices(objects, deployment, server, http, where);
        }
        for (HasMetadata object : objects) {
            if (object instanceof Pod pod) {
                for (Container container : pod.getSpec().getContainers()) {
                    assertEnvironment(container, "Pod " + pod.getMetadata().getName());
                }
            }
        }
    }

    /** The Dockerfile's runtime user is numeric and not root. */
    static int assertImageUserIsNonRoot(Path dockerfile) {
        String text;
        try {
            text = Files.readString(dockerfile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Matcher m = DOCKERFILE_USER.matcher(text);
        String last = null;
        while (m.find()) {
            last = m.group(1);
        }
        assertThat(last).as(dockerfile + " sets a USER").isNotNull();
        String uid = last.split(":")[0];
        assertThat(uid)
                .as("the image's USER is numeric, so runAsNonRoot can check it")
                .matches("\\d+");
        assertThat(Integer.parseInt(uid)).as("the image's USER is not root").isPositive();
        return Integer.parseInt(uid);
    }

    private static void assertEnvironment(Container container, String where) {
        ServerFacts facts = ServerFacts.get();
        // A variable only other values expand, as $(POD_NAMESPACE) in a DNS name, is the manifest's own.
        Set<String> expanded = new HashSet<>();
        for (EnvVar var : env(container)) {
            if (var.getValue() != null) {
                Matcher m = EXPANSION.matcher(var.getValue());
                while (m.find()) {
                    expanded.add(m.group(1));
                }
            }
        }
        List<String> unknown = env(container).stream()
                .map(EnvVar::getName)
                .filter(name -> !facts.reads(name) && !expanded.contains(name))
                .toList();
        assertThat(unknown)
                .as(where + ": environment names the server never reads (it reads " + facts.keysRead() + ")")
                .isEmpty();
        Map<String, String> values = plausibleValues(container);
        for (Map.Entry<String, String> e : values.entrySet()) {
            if (e.getKey().endsWith("_FILE")) {
                String file = e.getValue();
                assertThat(container.getVolumeMounts())
                        .as(where + ": " + e.getKey() + "=" + file + " lies on a mounted volume")
                        .anySatisfy(mount -> assertThat(file).startsWith(mount.getMountPath() + "/"));
            }
        }
        // The environment as a whole must be a configuration the replica accepts (enum values, durations,
        // discovery settings that go together): a manifest that renders is not yet one that starts.
        ServerConfig.from(values);
    }

    private static int assertHttpPortAndProbes(Container server, String where) {
        Map<String, String> env = plausibleValues(server);
        int http = Integer.parseInt(Objects.requireNonNullElse(
                env.getOrDefault(ServerConfig.HTTP_PORT, env.get(ServerConfig.PORT)),
                String.valueOf(ServerConfig.DEFAULT_PORT)));
        ContainerPort declared = port(server, "http");
        assertThat(declared).as(where + ": a container port named http").isNotNull();
        assertThat(declared.getContainerPort())
                .as(where + ": the http container port is the one the server listens on (PORT)")
                .isEqualTo(http);
        assertProbe(server, server.getStartupProbe(), "/health/started", http, where + " startupProbe");
        assertProbe(server, server.getLivenessProbe(), "/health/live", http, where + " livenessProbe");
        assertProbe(server, server.getReadinessProbe(), "/health/ready", http, where + " readinessProbe");
        if (ChorusConfig.BackplaneKind.JGROUPS == ChorusConfig.from(env::get).backplane()) {
            ContainerPort jgroups = port(server, "jgroups");
            assertThat(jgroups).as(where + ": a container port named jgroups").isNotNull();
            assertThat(jgroups.getContainerPort())
                    .as(where + ": the jgroups container port is CLUSTER_PORT")
                    .isEqualTo(ChorusConfig.from(env::get).clusterPort());
        }
        return http;
    }

    private static void assertProbe(Container server, Probe probe, String path, int http, String what) {
        assertThat(probe).as(what).isNotNull();
        assertThat(probe.getHttpGet()).as(what + " is an HTTP GET").isNotNull();
        assertThat(probe.getHttpGet().getPath()).as(what + " path").isEqualTo(path);
        assertThat(resolve(server, probe.getHttpGet().getPort()))
                .as(what + " port is the server's HTTP port")
                .isEqualTo(http);
        ServerFacts facts = ServerFacts.get();
        await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(facts.status(path))
                        .as(what + ": the server answers GET " + path)
                        .isEqualTo(200));
    }

    private static void assertGracePeriod(PodSpec pod, Container server, String where) {
        long grace = Objects.requireNonNullElse(pod.getTerminationGracePeriodSeconds(), DEFAULT_GRACE_SECONDS);
        long preStop = preStopSeconds(server);
        Duration drain = ChorusConfig.from(plausibleValues(server)::get).drainDelay();
        Duration needed = Duration.ofSeconds(preStop).plus(drain).plus(ChorusServer.CLOSE_BUDGET);
        assertThat(Duration.ofSeconds(grace))
                .as(where + ": terminationGracePeriodSeconds (" + grace + ") must exceed preStop (" + preStop
                        + " s) + CHORUS_DRAIN_DELAY (" + drain.toSeconds() + " s) + the close budget ("
                        + ChorusServer.CLOSE_BUDGET.toSeconds() + " s)")
                .isGreaterThan(needed);
    }

    /** The declared pre-stop pause, from the native sleep action; 0 when there is none. */
    static long preStopSeconds(Container server) {
        if (server.getLifecycle() == null
                || server.getLifecycle().getPreStop() == null
                || server.getLifecycle().getPreStop().getSleep() == null) {
            return 0;
        }
        return server.getLifecycle().getPreStop().getSleep().getSeconds();
    }

    private static void assertNonRoot(PodSpec pod, Container server, String where) {
        PodSecurityContext podContext = pod.getSecurityContext();
        SecurityContext context = server.getSecurityContext();
        Boolean nonRoot = context != null && context.getRunAsNonRoot() != null
                ? context.getRunAsNonRoot()
                : podContext == null ? null : podContext.getRunAsNonRoot();
        Long user = context != null && context.getRunAsUser() != null
                ? context.getRunAsUser()
                : podContext == null ? null : podContext.getRunAsUser();
        assertThat(nonRoot).as(where + ": runAsNonRoot").isTrue();
        assertThat(user)
                .as(where + ": runAsUser is set and is not root")
                .isNotNull()
                .isPositive();
        Path dockerfile = Repo.root().resolve("deploy/docker/Dockerfile");
        if (Files.exists(dockerfile)) {
            assertThat(user).as(where + ": runAsUser is the image's USER").isEqualTo((long)
                    assertImageUserIsNonRoot(dockerfile));
        }
        assertThat(context).as(where + ": a container securityContext").isNotNull();
        assertThat(context.getAllowPrivilegeEscalation())
                .as(where + ": allowPrivilegeEscalation")
                .isFalse();
        assertThat(context.getReadOnlyRootFilesystem())
                .as(where + ": readOnlyRootFilesystem")
                .isTrue();
        assertThat(server.getVolumeMounts())
                .as(where + ": /tmp is writable (the JVM's temporary files) on a read-only root")
                .anySatisfy(mount -> assertThat(mount.getMountPath()).isEqualTo("/tmp"));
    }

    private static void assertServices(
            List<HasMetadata> objects, Deployment deployment, Container server, int http, String where) {
        Map<String, String> labels =
                deployment.getSpec().getTemplate().getMetadata().getLabels();
        for (HasMetadata object : objects) {
            if (!(object instanceof Service service)
                    || service.getSpec().getPorts() == null
                    || service.getSpec().getSelector() == null
                    || !labels.entrySet()
                            .containsAll(service.getSpec().getSelector().entrySet())) {
                continue;
            }
            boolean jgroups = ChorusConfig.BackplaneKind.JGROUPS
                    == ChorusConfig.from(plausibleValues(server)::get).backplane();
            for (ServicePort port : service.getSpec().getPorts()) {
                if ("jgroups".equals(port.getName()) && !jgroups) {
                    // The discovery Service is the same on every backplane; its JGroups port matters only where
                    // JGroups listens.
                    continue;
                }
                IntOrString target =
                        port.getTargetPort() == null ? new IntOrString(port.getPort()) : port.getTargetPort();
                Integer resolved = resolve(server, target);
                assertThat(resolved)
                        .as(where + ": Service " + service.getMetadata().getName() + " port " + port.getName()
                                + " targets a port the container declares")
                        .isNotNull();
                if ("http".equals(port.getName())) {
                    assertThat(resolved).isEqualTo(http);
                }
            }
        }
    }

    private static Integer resolve(Container server, IntOrString port) {
        if (port.getIntVal() != null) {
            return server.getPorts().stream()
                    .map(ContainerPort::getContainerPort)
                    .filter(p -> p.equals(port.getIntVal()))
                    .findFirst()
                    .orElse(null);
        }
        ContainerPort named = port(server, port.getStrVal());
        return named == null ? null : named.getContainerPort();
    }

    private static ContainerPort port(Container container, String name) {
        if (container.getPorts() == null) {
            return null;
        }
        return container.getPorts().stream()
                .filter(p -> name.equals(p.getName()))
                .findFirst()
                .orElse(null);
    }

    private static List<EnvVar> env(Container container) {
        return container.getEnv() == null ? List.of() : container.getEnv();
    }

    /**
     * The container's environment with what only a cluster knows filled in plausibly: secrets by what they
     * hold, the pod's name and address. Literal values are kept as they are.
     */
    static Map<String, String> plausibleValues(Container container) {
        Map<String, String> values = new HashMap<>();
        List<String> problems = new ArrayList<>();
        for (EnvVar var : env(container)) {
            if (var.getValue() != null) {
                values.put(var.getName(), var.getValue());
            } else if (var.getValueFrom() != null && var.getValueFrom().getFieldRef() != null) {
                String field = var.getValueFrom().getFieldRef().getFieldPath();
                values.put(
                        var.getName(),
                        switch (field) {
                            case "status.podIP" -> "10.0.0.7";
                            case "metadata.namespace" -> "default";
                            default -> "chorus-7f9c-2";
                        });
            } else if (var.getValueFrom() != null && var.getValueFrom().getSecretKeyRef() != null) {
                values.put(var.getName(), plausibleSecret(var.getName()));
            } else {
                problems.add(var.getName());
            }
        }
        // Expand $(NAME) references the way the kubelet does, from variables defined earlier.
        for (EnvVar var : env(container)) {
            String value = values.get(var.getName());
            if (value != null) {
                Matcher m = EXPANSION.matcher(value);
                StringBuilder expandedValue = new StringBuilder();
                while (m.find()) {
                    m.appendReplacement(
                            expandedValue, Matcher.quoteReplacement(values.getOrDefault(m.group(1), m.group())));
                }
                m.appendTail(expandedValue);
                values.put(var.getName(), expandedValue.toString());
            }
        }
        assertThat(problems)
                .as("environment entries with neither a value nor a known source")
                .isEmpty();
        return values;
    }

    private static String plausibleSecret(String name) {
        return switch (name) {
            case ChorusConfig.DATABASE_URL -> "postgres://chorus:secret@db:5432/chorus";
            case ChorusConfig.REDIS_URL -> "redis://:secret@cache:6379/0";
            default -> "a-secret-of-at-least-sixteen-characters";
        };
    }
}
