package dev.chorus.deploy;

import dev.chorus.ChorusConfig;
import dev.chorus.server.ChorusServer;
import dev.chorus.server.Commands;
import dev.chorus.server.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the server itself reads and serves, learned from the server rather than written down twice: the
 * environment keys a replica asks for while it starts, and the status each path answers. One embedded replica
 * per test JVM is started on a free loopback port to learn them, and stopped when the JVM exits.
 */
final class ServerFacts {

    /** Read by the JVM (or the image's entrypoint), not by the server: allowed in a manifest all the same. */
    static final Set<String> READ_BY_THE_JVM = Set.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS");

    private static volatile ServerFacts instance;

    private final Set<String> keysRead;
    private final ChorusServer server;
    private final HttpClient http = HttpClient.newHttpClient();

    private ServerFacts(Set<String> keysRead, ChorusServer server) {
        this.keysRead = keysRead;
        this.server = server;
    }

    /** The facts, learning them on first use. */
    static ServerFacts get() {
        ServerFacts facts = instance;
        if (facts == null) {
            synchronized (ServerFacts.class) {
                facts = instance;
                if (facts == null) {
                    facts = learn();
                    instance = facts;
                }
            }
        }
        return facts;
    }

    private static ServerFacts learn() {
        Set<String> asked = ConcurrentHashMap.newKeySet();
        Map<String, String> env = new HashMap<>();
        env.put(ServerConfig.PORT, "0");
        env.put(ServerConfig.HTTP_HOST, "127.0.0.1");
        // With a management port the replica also reads where to bind it.
        env.put("CHORUS_MANAGEMENT_PORT", "0");
        // The server reads some settings only when it starts its parts, so record while it starts, not just
        // while the configuration is parsed.
        ChorusServer server = ChorusServer.start(ServerConfig.from(name -> {
            asked.add(name);
            return env.get(name);
        }));
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "server-facts-close"));
        // Every core key is read whatever the backplane; the jgroups-only and redis-only ones included.
        ChorusConfig.from(name -> {
            asked.add(name);
            return null;
        });
        // Logback reads its own variables from the server's logback.xml.
        asked.addAll(logbackVariables());
        // The jar's commands (the image's HEALTHCHECK, the helm test pod) read their own: run them against a
        // port where nothing listens, with every variable they ask for set, so they read them all.
        Map<String, String> commandEnv = Map.of(
                Commands.VERIFY_CLIENT_ID,
                "ops",
                Commands.VERIFY_CLIENT_SECRET,
                "secret",
                Commands.VERIFY_TIMEOUT,
                "1ms",
                Commands.VERIFY_MIN_INSTANCES,
                "1",
                ServerConfig.PORT,
                "1");
        PrintStream silent = new PrintStream(OutputStream.nullOutputStream());
        Commands commands = new Commands(
                name -> {
                    asked.add(name);
                    return commandEnv.get(name);
                },
                silent,
                silent);
        commands.run("health");
        commands.run("verify", "http://127.0.0.1:1");
        return new ServerFacts(Set.copyOf(asked), server);
    }

    private static Set<String> logbackVariables() {
        try (InputStream in = ChorusServer.class.getResourceAsStream("/logback.xml")) {
            if (in == null) {
                throw new IllegalStateException("the server ships no logback.xml");
            }
            String xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            Set<String> names = new TreeSet<>();
            Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)").matcher(xml);
            while (m.find()) {
                names.add(m.group(1));
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every environment key the server (or its jar's commands) reads. */
    Set<String> keysRead() {
        return new TreeSet<>(keysRead);
    }

    /** Whether {@code name} is read by the server, its commands or the JVM. */
    boolean reads(String name) {
        return keysRead.contains(name) || READ_BY_THE_JVM.contains(name);
    }

    /** The HTTP status the running replica answers a GET of {@code path} with. */
    int status(String path) {
        try {
            return http.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                                    .GET()
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            throw new IllegalStateException("the embedded replica did not answer GET " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
