package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Redis server for tests, resolved once per JVM; isolate each test with {@link #newNamespace(String)}.
 *
 * <p>Resolution order: {@code CHORUS_TEST_REDIS_URL} ({@code redis://[:password@]host:port}), then 127.0.0.1:6379 if
 * it answers {@code PING}, then an embedded {@code redis-server}. {@code CHORUS_TEST_EMBEDDED=true} forces the
 * embedded server.
 */
public sealed class TestRedis permits TestRedis.Embedded {

    /** System property or environment variable holding the URI of a server to use. */
    public static final String URL_KEY = "CHORUS_TEST_REDIS_URL";

    static final String LOCAL_HOST = "127.0.0.1";
    static final int LOCAL_PORT = 6379;
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private static final Logger LOG = LoggerFactory.getLogger(TestRedis.class);
    private static final Object SHARED_LOCK = new Object();
    private static volatile @Nullable TestRedis shared;

    private final ServerSource source;
    private final String host;
    private final int port;
    private final @Nullable String password;

    TestRedis(ServerSource source, String host, int port, @Nullable String password) {
        this.source = source;
        this.host = host;
        this.port = port;
        this.password = password;
    }

    /** The server shared by every test in this JVM, resolved on first use. */
    public static TestRedis server() {
        TestRedis server = shared;
        if (server == null) {
            synchronized (SHARED_LOCK) {
                server = shared;
                if (server == null) {
                    server = resolve(TestEnvironment.SYSTEM);
                    shared = server;
                }
            }
        }
        return server;
    }

    /**
     * Starts a new {@code redis-server} on a free port, owned by the caller and independent of {@link #server()}. It
     * can be stopped and started again on the same port; close it to stop it for good.
     */
    public static Embedded startEmbedded() {
        return startEmbedded(RedisProcess.Binary.PREFER_INSTALLED);
    }

    static Embedded startEmbedded(RedisProcess.Binary binary) {
        long started = System.nanoTime();
        RedisProcess process = RedisProcess.startOnFreePort(binary);
        Embedded embedded = new Embedded(process);
        LOG.info(
                "Started embedded Redis {} ({}) in {} ms",
                embedded,
                process.binary(),
                Duration.ofNanos(System.nanoTime() - started).toMillis());
        return embedded;
    }

    static TestRedis resolve(Function<String, @Nullable String> lookup) {
        if (TestEnvironment.forceEmbedded(lookup)) {
            LOG.info("Redis for tests: embedded, because {}=true", TestEnvironment.EMBEDDED_KEY);
            return startEmbedded();
        }
        String configured = lookup.apply(URL_KEY);
        if (configured != null) {
            TestRedis server = fromUri(configured);
            String failure = server.probe();
            if (failure != null) {
                throw new IllegalStateException(
                        URL_KEY + "=" + server.uri() + " is set but the server does not answer PING: " + failure);
            }
            LOG.info("Redis for tests: {}, from {}", server, URL_KEY);
            return server;
        }
        TestRedis local = new TestRedis(ServerSource.LOCAL, LOCAL_HOST, LOCAL_PORT, null);
        String failure = local.probe();
        if (failure == null) {
            LOG.info("Redis for tests: {}, because {} is not set and the local server answered PING", local, URL_KEY);
            return local;
        }
        LOG.info(
                "Redis for tests: embedded, because {} is not set and {} did not answer PING ({})",
                URL_KEY,
                local.uri(),
                failure);
        return startEmbedded();
    }

    static TestRedis fromUri(String uri) {
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(URL_KEY + " is not a redis:// URI", e);
        }
        if (!"redis".equals(parsed.getScheme()) || parsed.getHost() == null) {
            throw new IllegalArgumentException(URL_KEY + " is not a redis://host:port URI: " + parsed.getHost());
        }
        String userInfo = parsed.getUserInfo();
        String password = null;
        if (userInfo != null && !userInfo.isEmpty()) {
            // redis://:secret@host and redis://secret@host both mean "AUTH secret"; ACL users are not needed in tests.
            password = userInfo.substring(userInfo.indexOf(':') + 1);
        }
        return new TestRedis(
                ServerSource.CONFIGURED, parsed.getHost(), parsed.getPort() < 0 ? 6379 : parsed.getPort(), password);
    }

    /** Where this server came from. */
    public ServerSource source() {
        return source;
    }

    /** {@code redis://host:port}, with the password masked if there is one; see {@link #uriWithPassword()}. */
    public String uri() {
        return "redis://" + (password == null ? "" : ":***@") + host + ":" + port;
    }

    /** {@code redis://host:port}, carrying the password if the server needs one; never log it. */
    public String uriWithPassword() {
        return "redis://" + (password == null ? "" : ":" + password + "@") + host + ":" + port;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** Opens a raw RESP client, already authenticated if the server needs a password; the caller closes it. */
    public RespClient client() {
        RespClient client = RespClient.connect(host, port);
        if (password != null) {
            RespReply reply = client.send("AUTH", password);
            if (reply.isError()) {
                client.close();
                throw new IllegalStateException("AUTH failed on " + uri() + ": " + reply);
            }
        }
        return client;
    }

    /** A key and channel prefix that no other test uses; closing it deletes the keys under it. */
    public Namespace newNamespace(String hint) {
        return new Namespace(
                this, "t:" + TestEnvironment.sanitize(hint, 40) + ":" + TestEnvironment.randomSuffix() + ":");
    }

    @Override
    public String toString() {
        return source + " " + uri();
    }

    /** Returns why the server cannot be used, or null if it answered PING. */
    @Nullable
    String probe() {
        try (RespClient client = RespClient.connect(host, port, PROBE_TIMEOUT)) {
            if (password != null) {
                RespReply auth = client.send("AUTH", password);
                if (auth.isError()) {
                    return auth.toString();
                }
            }
            RespReply reply = client.send("PING");
            return reply instanceof RespReply.SimpleString(String pong) && pong.equals("PONG")
                    ? null
                    : reply.toString();
        } catch (UncheckedIOException e) {
            return e.getCause().toString();
        } catch (RuntimeException e) {
            // Something that is not Redis answered on the port.
            return e.toString();
        }
    }

    /**
     * A {@code redis-server} child process owned by whoever started it: {@code /usr/bin/redis-server} (or another
     * installed one) if present, else the binary bundled in embedded-redis. No persistence; bound to 127.0.0.1.
     */
    public static final class Embedded extends TestRedis implements AutoCloseable {

        private final RedisProcess process;

        private Embedded(RedisProcess process) {
            super(ServerSource.EMBEDDED, LOCAL_HOST, process.port(), null);
            this.process = process;
        }

        /** Stops the server (SIGTERM, then SIGKILL after a few seconds); a no-op if it is not running. */
        public void stop() {
            process.stop();
        }

        /** Starts the server again on the same port; a no-op if it is running. */
        public void start() {
            process.start();
        }

        /** False after {@link #stop()}, and after the server exited by itself, e.g. on {@code SHUTDOWN NOSAVE}. */
        public boolean isRunning() {
            return process.isRunning();
        }

        /** Stops the server for good and deletes its working directory; idempotent. */
        @Override
        public void close() {
            process.close();
        }
    }

    /** Keys and channels of one test: everything it names goes through {@link #key} and {@link #channel}. */
    public static final class Namespace implements AutoCloseable {

        private static final int SCAN_COUNT = 500;

        private final TestRedis server;
        private final String prefix;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Namespace(TestRedis server, String prefix) {
            this.server = server;
            this.prefix = prefix;
        }

        /** Like {@code t:hint:1a2b3c4d:}; safe inside a {@code MATCH} glob because it holds no glob characters. */
        public String prefix() {
            return prefix;
        }

        public String key(String name) {
            return prefix + name;
        }

        public String channel(String name) {
            return prefix + name;
        }

        public TestRedis server() {
            return server;
        }

        /**
         * Deletes every key under the prefix with SCAN and DEL; idempotent. A server that is gone is logged, not
         * thrown: tests that stop their own server should not fail in teardown.
         */
        @Override
        public void close() {
            if (closed.getAndSet(true)) {
                return;
            }
            try (RespClient client = server.client()) {
                String cursor = "0";
                do {
                    List<RespReply> page = client.send(
                                    "SCAN", cursor, "MATCH", prefix + "*", "COUNT", Integer.toString(SCAN_COUNT))
                            .asList();
                    cursor = page.get(0).asString();
                    List<RespReply> keys = page.get(1).asList();
                    if (!keys.isEmpty()) {
                        List<byte[]> command = new ArrayList<>(keys.size() + 1);
                        command.add("DEL".getBytes(UTF_8));
                        for (RespReply key : keys) {
                            command.add(((RespReply.BulkString) key).bytes());
                        }
                        client.send(command.toArray(byte[][]::new));
                    }
                } while (!cursor.equals("0"));
            } catch (UncheckedIOException e) {
                LOG.warn(
                        "Could not delete the keys of namespace {} on {}: {}",
                        prefix,
                        server,
                        e.getCause().toString());
            }
        }

        @Override
        public String toString() {
            return prefix + " on " + server;
        }
    }
}
