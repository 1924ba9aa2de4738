package dev.chorus.bench.websocket;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The scenario's handle on a {@link FleetMain} client process: one command line out, one reply line back.
 * The client runs in a JVM of its own because the 20,000 open files a process may hold here would otherwise
 * be shared between the sockets' two ends.
 */
final class FleetProcess implements AutoCloseable {

    /** The client's JVM options: its heap holds the sockets' state, a few hundred bytes each. */
    static final List<String> JVM_OPTIONS = List.of("-Xmx512m", "-XX:+UseSerialGC");

    /** Added to a command's own timeout: the client answers every command within that. */
    private static final Duration SLACK = Duration.ofSeconds(60);

    private static final String EXITED = "error the client process exited";

    private final Process process;
    private final Writer commands;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();

    private FleetProcess(Process process) {
        this.process = process;
        this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread.ofVirtual().name("fleet-replies").start(() -> {
            try (BufferedReader lines =
                    new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    replies.add(line);
                }
            } catch (IOException ignored) {
                // the process is gone; the marker below says so
            }
            replies.add(EXITED);
        });
    }

    /**
     * Starts a client whose sockets come from {@code sourcePrefix} 2, 3, … ({@code 127.0.1.} gives
     * 127.0.1.2 onwards), {@code perSource} sockets per address; its errors go to this process's stderr.
     */
    static FleetProcess start(String sourcePrefix, int perSource) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_OPTIONS);
        command.addAll(List.of(
                "-cp",
                System.getProperty("java.class.path"),
                FleetMain.class.getName(),
                sourcePrefix,
                Integer.toString(perSource)));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        return new FleetProcess(process);
    }

    /**
     * Sends one command and returns the reply's {@code key=value} words.
     *
     * @param timeout how long the command itself may take (it is also given to the client where it has one)
     * @throws IllegalStateException when the client answers with an error, exits, or does not answer
     */
    Map<String, String> call(String command, Duration timeout) {
        String verb = command.split(" ", 2)[0];
        String reply;
        try {
            commands.write(command + "\n");
            commands.flush();
            reply = replies.poll(timeout.plus(SLACK).toMillis(), TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            throw new IllegalStateException("could not send '" + verb + "' to the client process: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the reply to '" + verb + "'", e);
        }
        if (reply == null) {
            throw new IllegalStateException(
                    "the client process did not answer '" + verb + "' within " + timeout.plus(SLACK));
        }
        if (!reply.startsWith("ok ")) {
            throw new IllegalStateException("the client process answered '" + verb + "' with: " + reply);
        }
        Map<String, String> words = new LinkedHashMap<>();
        for (String word : reply.substring(3).split(" ")) {
            int equals = word.indexOf('=');
            if (equals > 0) {
                words.put(word.substring(0, equals), word.substring(equals + 1));
            }
        }
        return words;
    }

    long pid() {
        return process.pid();
    }

    /** Shorthand for a command that returns at once. */
    Map<String, String> call(String command) {
        return call(command, Duration.ZERO);
    }

    @Override
    public void close() {
        try {
            commands.write("quit\n");
            commands.flush();
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
