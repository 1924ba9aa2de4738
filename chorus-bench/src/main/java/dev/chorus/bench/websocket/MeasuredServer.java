package dev.chorus.bench.websocket;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A server process whose footprint is measured: a reference server replica or the raw Jetty baseline, each
 * started from the benchmark's own class path with {@code -Xmx1g} and G1, listening on all interfaces.
 */
final class MeasuredServer implements AutoCloseable {

    /** The JVM options of every measured server. */
    static final List<String> JVM_OPTIONS = List.of("-Xmx1g", "-XX:+UseG1GC");

    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Pattern HEAP_USED = Pattern.compile("garbage-first heap .*used (\\d+)K");
    private static final Pattern RSS = Pattern.compile("VmRSS:\\s+(\\d+) kB");
    private static final Pattern LISTENING = Pattern.compile("listening (\\d+)");

    /** Heap in use right after a full GC, and the process's resident set, both in bytes. */
    record Footprint(long heapBytes, long rssBytes) {}

    private final String name;
    private final Process process;
    private final int port;
    private final Path log;

    private MeasuredServer(String name, Process process, int port, Path log) {
        this.name = name;
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /**
     * Starts {@code dev.chorus.server.Main} with only {@code env} of Chorus's settings (the bench's own
     * {@code CHORUS_*} variables would change what is measured), on a free port, and waits until it is ready.
     */
    static MeasuredServer chorus(String name, Map<String, String> env, Path logs) throws IOException {
        int port = freePort();
        ProcessBuilder builder = java("dev.chorus.server.Main");
        builder.environment()
                .keySet()
                .removeIf(k -> k.startsWith("CHORUS_") || k.equals("DATABASE_URL") || k.equals("REDIS_URL"));
        builder.environment().putAll(env);
        builder.environment().put("PORT", Integer.toString(port));
        builder.environment().remove("CHORUS_HTTP_PORT");
        builder.environment().put("CHORUS_HTTP_HOST", "0.0.0.0");
        Path log = logs.resolve(name + ".log");
        Process process =
                builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        MeasuredServer server = new MeasuredServer(name, process, port, log);
        try {
            ChorusHttp.awaitReady(port, process, START_TIMEOUT);
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        return server;
    }

    /** Starts {@link RawJettyServer} and waits for the port it prints. */
    static MeasuredServer rawJetty(String name, Path logs) throws IOException {
        Path log = logs.resolve(name + ".log");
        Process process =
                java(RawJettyServer.class.getName()).redirectError(log.toFile()).start();
        BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return String.valueOf(out.readLine());
            } catch (IOException e) {
                return "unreadable: " + e;
            }
        });
        String line;
        try {
            line = first.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted while " + name + " started", e);
        } catch (ExecutionException | TimeoutException e) {
            process.destroyForcibly();
            throw new IOException(name + " printed no port within " + START_TIMEOUT + "; see " + log, e);
        }
        Matcher m = LISTENING.matcher(line);
        if (!m.find()) {
            process.destroyForcibly();
            throw new IOException(name + " printed '" + line + "' instead of its port; see " + log);
        }
        return new MeasuredServer(name, process, Integer.parseInt(m.group(1)), log);
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    /**
     * A full GC ({@code jcmd GC.run}), then the heap in use ({@code jcmd GC.heap_info}) and the resident set
     * ({@code /proc/<pid>/status}).
     */
    Footprint footprint() throws IOException {
        jcmd("GC.run");
        String heapInfo = jcmd("GC.heap_info");
        Matcher heap = HEAP_USED.matcher(heapInfo);
        if (!heap.find()) {
            throw new IOException("no G1 heap line in jcmd GC.heap_info of " + name + ": " + heapInfo.strip());
        }
        String status = Files.readString(Path.of("/proc", Long.toString(pid()), "status"));
        Matcher rss = RSS.matcher(status);
        if (!rss.find()) {
            throw new IOException("no VmRSS in /proc/" + pid() + "/status");
        }
        return new Footprint(Long.parseLong(heap.group(1)) * 1024, Long.parseLong(rss.group(1)) * 1024);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private String jcmd(String command) throws IOException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        List<String> line = new ArrayList<>(
                List.of(Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd", Long.toString(pid()), command));
        Process run = new ProcessBuilder(line).redirectErrorStream(true).start();
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "unreadable: " + e;
            }
        });
        try {
            if (!run.waitFor(120, TimeUnit.SECONDS)) {
                run.destroyForcibly();
                throw new IOException("jcmd " + command + " on " + name + " took over 120 s");
            }
            String text = output.get(10, TimeUnit.SECONDS);
            if (run.exitValue() != 0) {
                throw new IOException("jcmd " + command + " on " + name + " failed: " + text.strip());
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during jcmd " + command, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("jcmd " + command + " on " + name + " printed nothing readable", e);
        }
    }

    private static ProcessBuilder java(String mainClass) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_OPTIONS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        return new ProcessBuilder(command);
    }

    /** A port free on every interface now; the server binds it a moment later (a race nothing else runs). */
    private static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0));
            return probe.getLocalPort();
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + pid() + ", port " + port + ", log " + log + ")";
    }
}
