package dev.chorus.testkit;

import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A replica in its own JVM, on this JVM's class path, for tests that need a real process to kill. The child's
 * {@code main} calls {@link #ready(UUID)} once it has joined, {@link #awaitClose()} to wait for the parent, and
 * {@link #closed()} after closing; the parent {@link #start}s it, then {@link #kill()}s it or {@link
 * #requestClose()}s it.
 */
public final class ChildJvm implements AutoCloseable {

    /** The line a child prints, followed by its replica id, once it has joined. */
    public static final String READY = "READY ";
    /** The line a child prints after it closed cleanly. */
    public static final String CLOSED = "CLOSED";
    /** How long a child JVM may take to start and join. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Process process;
    private final UUID id;
    private final List<String> output;

    private ChildJvm(Process process, UUID id, List<String> output) {
        this.process = process;
        this.id = id;
        this.output = output;
    }

    /** Starts {@code main} with {@code args} and waits for its {@link #READY} line; {@code name} tags its output. */
    public static ChildJvm start(Class<?> main, String name, String... args) throws IOException {
        return start(main, name, List.of(), args);
    }

    /** Like {@link #start(Class, String, String...)}, with {@code jvmOptions} such as {@code -Xmx64m}. */
    public static ChildJvm start(Class<?> main, String name, List<String> jvmOptions, String... args)
            throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<String> output = ProcessOutput.follow(process, "child-" + name);
        try {
            await().atMost(START_TIMEOUT)
                    .pollInterval(Duration.ofMillis(20))
                    .until(() -> readyId(output).isPresent() || !process.isAlive());
        } catch (RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
        Optional<UUID> id = readyId(output);
        if (id.isEmpty()) {
            process.destroyForcibly();
            throw new AssertionError("child " + name + " exited before READY: " + output);
        }
        return new ChildJvm(process, id.get(), output);
    }

    /** The child's process. */
    public Process process() {
        return process;
    }

    /** The replica id the child reported in its {@link #READY} line. */
    public UUID id() {
        return id;
    }

    /** Everything the child printed so far. */
    public List<String> output() {
        return output;
    }

    /** Kills the child with SIGKILL on Linux: no shutdown hooks, no goodbye. */
    public void kill() {
        process.destroyForcibly();
    }

    /** Tells the child to close cleanly. */
    public void requestClose() throws IOException {
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write("close\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Kills the child if it still runs and waits for it to end. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    /** In the child: reports that it joined as {@code id}. */
    public static void ready(UUID id) {
        System.out.println(READY + id);
        System.out.flush();
    }

    /** In the child: waits until the parent asks it to close, or its stdin ends. */
    public static void awaitClose() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        do {
            line = in.readLine();
        } while (line != null && !line.equals("close"));
    }

    /** In the child: reports that it closed cleanly. */
    public static void closed() {
        System.out.println(CLOSED);
        System.out.flush();
    }

    private static Optional<UUID> readyId(List<String> output) {
        return output.stream()
                .filter(line -> line.startsWith(READY))
                .map(line -> UUID.fromString(line.substring(READY.length()).strip()))
                .findFirst();
    }
}
