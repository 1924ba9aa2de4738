package dev.chorus.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.core.ExecutableProvider;

/**
 * One {@code redis-server} child process on a fixed port that can be stopped and started again.
 *
 * <p>We launch the binary ourselves rather than through embedded-redis's {@code RedisServer}: that class never notices
 * a server that exited on its own (after {@code SHUTDOWN}) and so cannot restart it, and it stops draining the
 * server's output once it is ready.
 */
final class RedisProcess implements AutoCloseable {

    /** Which executable to run. */
    enum Binary {
        /** An installed {@code redis-server} if there is one (usually newer), else the bundled one. */
        PREFER_INSTALLED,
        /** The binary inside the embedded-redis jar: proves the fallback on machines without Redis installed. */
        BUNDLED
    }

    private static final Logger LOG = LoggerFactory.getLogger(RedisProcess.class);
    private static final List<Path> INSTALLED = List.of(
            Path.of("/usr/bin/redis-server"),
            Path.of("/usr/local/bin/redis-server"),
            Path.of("/opt/homebrew/bin/redis-server"));
    private static final String READY = "Ready to accept connections";
    private static final long START_TIMEOUT_SECONDS = 20;
    private static final long STOP_TIMEOUT_SECONDS = 5;
    private static final int OUTPUT_LINES_KEPT = 40;
    private static final Object BUNDLED_LOCK = new Object();
    private static @Nullable Path bundled;

    private final Path binary;
    private final int port;
    private final Path directory;
    private final Thread shutdownHook;
    private @Nullable Process process;
    private boolean closed;

    private RedisProcess(Path binary, int port) {
        this.binary = binary;
        this.port = port;
        try {
            this.directory = Files.createTempDirectory("chorus-redis-" + port + "-");
        } catch (IOException e) {
            throw new UncheckedIOException("could not create a working directory for redis-server", e);
        }
        // Child processes outlive the JVM unless someone kills them.
        this.shutdownHook = Thread.ofPlatform()
                .name("chorus-testkit-redis-" + port + "-stop")
                .unstarted(this::close);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    static RedisProcess startOnFreePort(Binary which) {
        Path binary = locate(which);
        RuntimeException failure = null;
        // Another process can take the free port before redis-server binds it; a new port fixes that.
        for (int attempt = 1; attempt <= 3; attempt++) {
            RedisProcess redis = new RedisProcess(binary, freePort());
            try {
                redis.start();
                return redis;
            } catch (RuntimeException e) {
                redis.close();
                failure = e;
            }
        }
        throw failure;
    }

    Path binary() {
        return binary;
    }

    int port() {
        return port;
    }

    synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    synchronized void start() {
        if (closed) {
            throw new IllegalStateException("redis-server on port " + port + " is closed");
        }
        if (isRunning()) {
            return;
        }
        Process started;
        try {
            started = new ProcessBuilder(
                            binary.toString(),
                            "--port",
                            Integer.toString(port),
                            "--bind",
                            "127.0.0.1",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--dir",
                            directory.toString())
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + binary, e);
        }
        process = started;
        awaitReady(started);
    }

    synchronized void stop() {
        Process running = process;
        if (running == null || !running.isAlive()) {
            return;
        }
        running.destroy();
        try {
            if (!running.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                running.destroyForcibly().waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            running.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        LOG.debug("Stopped redis-server on port {}", port);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stop();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // The JVM is exiting, possibly inside this very hook: nothing to unregister.
        }
        try (Stream<Path> files = Files.walk(directory)) {
            files.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            LOG.debug("Could not delete {}", directory, e);
        }
    }

    private void awaitReady(Process started) {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Deque<String> output = new ArrayDeque<>();
        Thread.ofVirtual().name("chorus-testkit-redis-" + port + "-output").start(() -> {
            try (BufferedReader lines =
                    new BufferedReader(new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    LOG.debug("redis-server:{} {}", port, line);
                    if (!ready.isDone()) {
                        synchronized (output) {
                            output.addLast(line);
                            if (output.size() > OUTPUT_LINES_KEPT) {
                                output.removeFirst();
                            }
                        }
                        if (line.contains(READY)) {
                            ready.complete(null);
                        }
                    }
                }
            } catch (IOException e) {
                LOG.debug("Stopped reading redis-server:{} output", port, e);
            }
            ready.completeExceptionally(new IllegalStateException("redis-server exited before it was ready"));
        });
        try {
            ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            started.destroyForcibly();
            String log;
            synchronized (output) {
                log = String.join("\n", output);
            }
            throw new IllegalStateException(
                    binary + " did not become ready on port " + port + " within " + START_TIMEOUT_SECONDS
                            + " s; its output:\n" + log,
                    e);
        } catch (InterruptedException e) {
            started.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting redis-server", e);
        }
    }

    private static Path locate(Binary which) {
        if (which == Binary.PREFER_INSTALLED) {
            for (Path candidate : INSTALLED) {
                if (Files.isExecutable(candidate)) {
                    return candidate;
                }
            }
        }
        synchronized (BUNDLED_LOCK) {
            if (bundled == null) {
                try {
                    bundled = ExecutableProvider.newJarResourceProvider().get().toPath();
                } catch (IOException e) {
                    throw new UncheckedIOException("could not extract the redis-server bundled in embedded-redis", e);
                }
            }
            return bundled;
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("could not find a free port", e);
        }
    }
}
