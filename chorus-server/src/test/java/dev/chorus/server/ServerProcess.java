package dev.chorus.server;

import static org.awaitility.Awaitility.await;

import dev.chorus.testkit.ProcessOutput;
import dev.chorus.testkit.TestSecrets;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server replica in its own process, started from a command (the test class path's {@code Main}, or the
 * README's {@code bin/chorus run}) with an environment of its own; the port comes from its startup line.
 */
final class ServerProcess implements AutoCloseable {

    static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private static final Logger LOG = LoggerFactory.getLogger(ServerProcess.class);
    private static final Pattern LISTENING = Pattern.compile("listening on [^ ]+:(\\d+):");

    private final String name;
    private final Process process;
    private final List<String> output;
    private final int port;

    private ServerProcess(String name, Process process, List<String> output, int port) {
        this.name = name;
        this.process = process;
        this.output = output;
        this.port = port;
    }

    /** Starts {@link Main} on this JVM's class path, on a free loopback port, with {@code env} added. */
    static ServerProcess start(String name, Map<String, String> env) throws IOException {
        return start(name, env, List.of("-Xmx256m"));
    }

    /** Starts {@link Main} like {@link #start(String, Map)}, with {@code jvmOptions} (a heap size, say). */
    static ServerProcess start(String name, Map<String, String> env, List<String> jvmOptions) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>();
        command.add(java.toString());
        command.addAll(jvmOptions);
        command.addAll(
                List.of("-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        return start(name, command, null, env);
    }

    /** Starts {@code command} in {@code directory} with {@code env} added and waits until it listens. */
    static ServerProcess start(String name, List<String> command, Path directory, Map<String, String> env)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (directory != null) {
            builder.directory(directory.toFile());
        }
        builder.environment()
                .keySet()
                .removeIf(k -> k.startsWith("CHORUS_")
                        || k.equals("DATABASE_URL")
                        || k.equals("REDIS_URL")
                        || k.equals("PORT"));
        builder.environment().put("PORT", "0");
        builder.environment().put("CHORUS_HTTP_HOST", "127.0.0.1");
        builder.environment().put("CHORUS_REPLICA_NAME", name);
        // Tests that stop replicas do not wait out the production drain delay unless they ask for it.
        builder.environment().put("CHORUS_DRAIN_DELAY", "100ms");
        // Networked backplanes refuse to start without a cluster secret; every test replica shares one.
        builder.environment().put("CHORUS_CLUSTER_SECRET", TestSecrets.VALUE);
        builder.environment().putAll(env);
        Process process = builder.start();
        List<String> output = ProcessOutput.follow(process, name);
        try {
            await().atMost(START_TIMEOUT)
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> port(output).isPresent() || !process.isAlive());
        } catch (RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
        Optional<Integer> port = port(output);
        if (port.isEmpty()) {
            process.destroyForcibly();
            throw new AssertionError("server " + name + " exited before listening: " + String.join("\n", output));
        }
        return new ServerProcess(name, process, output, port.get());
    }

    private static Optional<Integer> port(List<String> output) {
        for (String line : output) {
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
                return Optional.of(Integer.parseInt(m.group(1)));
            }
        }
        return Optional.empty();
    }

    String name() {
        return name;
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + port);
    }

    int port() {
        return port;
    }

    Process process() {
        return process;
    }

    /** Every line the server printed so far. */
    List<String> output() {
        return new ArrayList<>(output);
    }

    /** Whether some line of output contains {@code text}. */
    boolean printed(String text) {
        return output.stream().anyMatch(line -> line.contains(text));
    }

    /**
     * Sends SIGTERM, as an orchestrator would. Through the process handle: {@link Process#destroy()} also
     * closes our end of the output pipe, and with it the lines the replica prints while it drains.
     */
    void terminate() {
        process.toHandle().destroy();
    }

    /** SIGTERM, then waits for the exit (forcibly after 30 s). */
    @Override
    public void close() {
        terminate();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
    }
}
