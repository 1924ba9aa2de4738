package dev.chorus.deploy;

import dev.chorus.server.Main;
import dev.chorus.testkit.ProcessOutput;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.SecretVolumeSource;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A pod's container run as a process of this machine, the way its manifest describes it: exactly its
 * environment and arguments, with only what a cluster provides stood in for. Secrets come from {@code secrets}
 * (name, then key), secret volumes are files under a directory of the test's, the pod's name and address are
 * given, and the image's entrypoint ({@code java -jar /app/chorus-server.jar}) is this JVM's class path's
 * {@link Main}. The pod's own address is a loopback address of its own, the stand-in for a pod IP, so every
 * replica listens on the port the manifest declares.
 */
final class PodProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final List<String> output;

    private PodProcess(String name, Process process, List<String> output) {
        this.name = name;
        this.process = process;
        this.output = output;
    }

    /** What a cluster would provide to one pod: its name and address, and the secrets it references. */
    record Cluster(Map<String, Map<String, String>> secrets, Path volumes) {}

    /**
     * Starts {@code container} of {@code pod} as pod {@code podName} with address {@code podIp}.
     *
     * @param bindHost the address the HTTP listener binds: the pod's address (a container listens on every
     *     address of its own network namespace, which on one machine is the pod's loopback alias)
     */
    static PodProcess start(
            PodSpec pod, Container container, String podName, String podIp, Cluster cluster, String bindHost)
            throws IOException {
        Map<String, String> env = environment(pod, container, podName, podIp, cluster);
        env.put("CHORUS_HTTP_HOST", bindHost);
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
        if (container.getCommand() != null && !container.getCommand().isEmpty()) {
            throw new IllegalArgumentException(
                    "container " + container.getName() + " replaces the image's entrypoint with "
                            + container.getCommand() + "; the conformance test runs the image's own");
        }
        if (container.getArgs() != null) {
            command.addAll(container.getArgs());
        }
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        // Only the manifest's environment: nothing of this test JVM's leaks into the pod.
        builder.environment().clear();
        builder.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        builder.environment().putAll(env);
        Process process = builder.start();
        return new PodProcess(podName, process, ProcessOutput.follow(process, podName));
    }

    /** The container's environment with secrets, field references and secret volumes resolved. */
    static Map<String, String> environment(
            PodSpec pod, Container container, String podName, String podIp, Cluster cluster) {
        Map<String, Path> mounts = mountSecretVolumes(pod, container, cluster);
        Map<String, String> env = new HashMap<>();
        for (EnvVar var : container.getEnv() == null ? List.<EnvVar>of() : container.getEnv()) {
            String value;
            if (var.getValue() != null) {
                value = var.getValue();
            } else if (var.getValueFrom() != null && var.getValueFrom().getFieldRef() != null) {
                String field = var.getValueFrom().getFieldRef().getFieldPath();
                value = switch (field) {
                    case "metadata.name" -> podName;
                    case "status.podIP" -> podIp;
                    default -> throw new IllegalArgumentException("unsupported fieldRef " + field);
                };
            } else if (var.getValueFrom() != null && var.getValueFrom().getSecretKeyRef() != null) {
                SecretKeySelector ref = var.getValueFrom().getSecretKeyRef();
                value = secret(cluster, ref.getName(), ref.getKey());
            } else {
                throw new IllegalArgumentException("unsupported env source for " + var.getName());
            }
            // A file under a mounted volume lives under the test's directory for that volume.
            for (Map.Entry<String, Path> mount : mounts.entrySet()) {
                if (value.startsWith(mount.getKey() + "/")) {
                    value = mount.getValue()
                            .resolve(value.substring(mount.getKey().length() + 1))
                            .toString();
                }
            }
            env.put(var.getName(), value);
        }
        return env;
    }

    private static Map<String, Path> mountSecretVolumes(PodSpec pod, Container container, Cluster cluster) {
        Map<String, Path> mounts = new HashMap<>();
        if (container.getVolumeMounts() == null) {
            return mounts;
        }
        for (VolumeMount mount : container.getVolumeMounts()) {
            Volume volume = pod.getVolumes().stream()
                    .filter(v -> v.getName().equals(mount.getName()))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no volume named " + mount.getName()));
            SecretVolumeSource source = volume.getSecret();
            if (source == null) {
                continue; // emptyDir and the like: the process's own temporary directory stands in
            }
            Path dir = cluster.volumes().resolve(source.getSecretName());
            try {
                Files.createDirectories(dir);
                Map<String, String> data = cluster.secrets().get(source.getSecretName());
                if (data == null) {
                    throw new IllegalArgumentException("the test provides no Secret " + source.getSecretName());
                }
                for (Map.Entry<String, String> e : data.entrySet()) {
                    Files.writeString(dir.resolve(e.getKey()), e.getValue());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            mounts.put(mount.getMountPath(), dir);
        }
        return mounts;
    }

    private static String secret(Cluster cluster, String name, String key) {
        Map<String, String> data = cluster.secrets().get(name);
        if (data == null || !data.containsKey(key)) {
            throw new IllegalArgumentException("the test provides no Secret " + name + " key " + key);
        }
        return data.get(key);
    }

    String name() {
        return name;
    }

    Process process() {
        return process;
    }

    /** Every line printed so far. */
    List<String> output() {
        return new ArrayList<>(output);
    }

    /** SIGTERM, as the kubelet sends after the pre-stop hook. */
    void terminate() {
        process.toHandle().destroy();
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
