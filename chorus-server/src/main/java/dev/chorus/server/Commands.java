package dev.chorus.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The server jar's one-shot commands, for images that carry a JRE and nothing else (no shell, no curl): {@code
 * health} for a container {@code HEALTHCHECK} and {@code verify} for a {@code helm test} pod or an operator's
 * "is this cluster really HA?" check. Each returns a process exit code.
 */
public final class Commands {

    /** Everything passed. */
    public static final int OK = 0;
    /** The check ran and failed, or the server could not be reached in time. */
    public static final int FAILED = 1;
    /** The command line or its variables are wrong; the message says which. */
    public static final int USAGE = 2;

    /** The operator client the verify command signs in with. */
    public static final String VERIFY_CLIENT_ID = "CHORUS_VERIFY_CLIENT_ID";
    /** That client's secret. */
    public static final String VERIFY_CLIENT_SECRET = "CHORUS_VERIFY_CLIENT_SECRET";
    /** How long verify keeps retrying a server that does not answer yet (a test pod started with the release). */
    public static final String VERIFY_TIMEOUT = "CHORUS_VERIFY_TIMEOUT";

    /**
     * The fewest live replicas verify accepts: the cluster's own check compares the live count only with its
     * maximum, and a replica that found no peers (discovery broken) is a cluster of one that passes it.
     */
    public static final String VERIFY_MIN_INSTANCES = "CHORUS_VERIFY_MIN_INSTANCES";

    public static final Duration DEFAULT_VERIFY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(3);

    private static final String USAGE_TEXT = """
            usage: java -jar chorus-server.jar                 start a replica (configured by the environment)
                   java -jar chorus-server.jar health [URL]    exit 0 when URL answers 200
                                                               (default: this replica's /health/live, from
                                                               CHORUS_HTTP_HOST and CHORUS_HTTP_PORT or PORT)
                   java -jar chorus-server.jar verify URL      run the cluster verify through the replica at URL
                                                               (for example http://chorus:8080) as the operator
                                                               client CHORUS_VERIFY_CLIENT_ID / _SECRET; exit 0
                                                               when every check passes and at least
                                                               CHORUS_VERIFY_MIN_INSTANCES (1) are live""";

    private final Function<String, @Nullable String> env;
    private final PrintStream out;
    private final PrintStream err;
    private final ObjectMapper json = new ObjectMapper();

    /** Commands reading {@code env} and printing to {@code out} and {@code err}. */
    public Commands(Function<String, @Nullable String> env, PrintStream out, PrintStream err) {
        this.env = name -> {
            String value = env.apply(name);
            return value == null || value.isBlank() ? null : value.strip();
        };
        this.out = out;
        this.err = err;
    }

    /** Runs the command {@code args} names and returns its exit code. */
    public int run(String... args) {
        String command = args[0];
        return switch (command) {
            case "health" -> args.length <= 2 ? health(args.length == 2 ? args[1] : null) : usage("too many arguments");
            case "verify" -> args.length == 2 ? verify(args[1]) : usage("verify takes one URL");
            case "-h", "--help", "help" -> {
                out.println(USAGE_TEXT);
                yield OK;
            }
            default -> usage("unknown command '" + command + "'");
        };
    }

    private int usage(String problem) {
        err.println(problem);
        err.println(USAGE_TEXT);
        return USAGE;
    }

    private int health(@Nullable String url) {
        String target = url;
        if (target == null) {
            // The same precedence as the server's: CHORUS_HTTP_PORT over PORT; a wildcard bind answers on loopback.
            String port = env.apply(ServerConfig.HTTP_PORT);
            if (port == null) {
                port = env.apply(ServerConfig.PORT);
            }
            String host = env.apply(ServerConfig.HTTP_HOST);
            if (host == null || host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
                host = "127.0.0.1";
            } else if (host.contains(":") && !host.startsWith("[")) {
                host = "[" + host + "]";
            }
            target = "http://" + host + ":" + (port == null ? ServerConfig.DEFAULT_PORT : port) + "/health/live";
        }
        URI uri = uri(target);
        if (uri == null) {
            return USAGE;
        }
        try (HttpClient client =
                HttpClient.newBuilder().connectTimeout(HEALTH_TIMEOUT).build()) {
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(uri).timeout(HEALTH_TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
                return OK;
            }
            err.println(target + " answered " + response.statusCode() + ": " + response.body());
            return FAILED;
        } catch (IOException e) {
            err.println(target + " did not answer: " + e);
            return FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return FAILED;
        }
    }

    private int verify(String url) {
        URI base = uri(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        String id = env.apply(VERIFY_CLIENT_ID);
        String secret = env.apply(VERIFY_CLIENT_SECRET);
        if (base == null) {
            return USAGE;
        }
        if (id == null || secret == null) {
            err.println(VERIFY_CLIENT_ID + " and " + VERIFY_CLIENT_SECRET + " must name a client with the operator"
                    + " role (one of CHORUS_CLIENTS), for example " + VERIFY_CLIENT_ID + "=ops "
                    + VERIFY_CLIENT_SECRET + "=<its secret>");
            return USAGE;
        }
        Duration timeout = timeout();
        Integer minInstances = minInstances();
        if (timeout == null || minInstances == null) {
            return USAGE;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try (HttpClient client =
                HttpClient.newBuilder().connectTimeout(REQUEST_TIMEOUT).build()) {
            String token = null;
            // The test pod may start with the release: retry until the replicas answer, then sign in once.
            while (token == null) {
                try {
                    token = token(client, base, id, secret);
                } catch (ConnectException | HttpTimeoutException e) {
                    if (System.nanoTime() > deadline) {
                        err.println(base + " did not answer within " + timeout.toSeconds() + " s (" + e
                                + "); is the Service up and are the replicas ready?");
                        return FAILED;
                    }
                    err.println(base + " does not answer yet (" + e.getClass().getSimpleName() + "); retrying");
                    pause();
                }
            }
            if (token.isEmpty()) {
                return FAILED;
            }
            HttpResponse<String> response = get(client, URI.create(base + "/api/cluster/verify"), token);
            if (response.statusCode() != 200) {
                err.println(
                        "GET " + base + "/api/cluster/verify answered " + response.statusCode() + ": " + response.body()
                                + (response.statusCode() == 403 ? " (the client needs the operator role)" : ""));
                return FAILED;
            }
            int code = report(json.readTree(response.body()));
            return instances(client, base, token, minInstances) == OK ? code : FAILED;
        } catch (IOException e) {
            err.println("verify through " + base + " failed: " + e);
            return FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return FAILED;
        }
    }

    /** The access token, or "" after printing why the server refused. */
    private String token(HttpClient client, URI base, String id, String secret)
            throws IOException, InterruptedException {
        String form = "grant_type=client_credentials&client_id=" + URLEncoder.encode(id, StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(secret, StandardCharsets.UTF_8);
        HttpResponse<String> response = client.send(
                HttpRequest.newBuilder(URI.create(base + "/oauth/token"))
                        .timeout(REQUEST_TIMEOUT)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            err.println("client '" + id + "' could not sign in at " + base + "/oauth/token (" + response.statusCode()
                    + "): " + response.body());
            return "";
        }
        return json.readTree(response.body()).path("access_token").asText();
    }

    private static HttpResponse<String> get(HttpClient client, URI uri, String token)
            throws IOException, InterruptedException {
        return client.send(
                HttpRequest.newBuilder(uri)
                        .timeout(REQUEST_TIMEOUT)
                        .header("Authorization", "Bearer " + token)
                        .GET()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Checks the live count against {@value #VERIFY_MIN_INSTANCES}, printed like the cluster's checks. */
    private int instances(HttpClient client, URI base, String token, int minInstances)
            throws IOException, InterruptedException {
        HttpResponse<String> response = client.send(
                HttpRequest.newBuilder(URI.create(base + "/api/cluster"))
                        .timeout(REQUEST_TIMEOUT)
                        .header("Authorization", "Bearer " + token)
                        .GET()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            err.println("GET " + base + "/api/cluster answered " + response.statusCode() + ": " + response.body());
            return FAILED;
        }
        int live = json.readTree(response.body()).path("live").asInt();
        boolean passed = live >= minInstances;
        out.printf(
                Locale.ROOT,
                "%s  instances: %d live, at least %d expected (%s)%n",
                passed ? "PASS" : "FAIL",
                live,
                minInstances,
                VERIFY_MIN_INSTANCES);
        if (!passed) {
            out.println("fewer replicas see each other than should: check discovery and the backplane");
        }
        return passed ? OK : FAILED;
    }

    private int report(JsonNode body) {
        for (JsonNode check : body.path("checks")) {
            out.printf(
                    Locale.ROOT,
                    "%s  %s: %s%n",
                    check.path("passed").asBoolean() ? "PASS" : "FAIL",
                    check.path("name").asText(),
                    check.path("detail").asText());
        }
        boolean passed = body.path("passed").asBoolean();
        out.println(passed ? "cluster verify passed" : "cluster verify FAILED");
        return passed ? OK : FAILED;
    }

    private @Nullable Duration timeout() {
        String value = env.apply(VERIFY_TIMEOUT);
        if (value == null) {
            return DEFAULT_VERIFY_TIMEOUT;
        }
        Duration parsed = dev.chorus.ChorusConfig.parseDuration(value);
        if (parsed == null || parsed.isNegative()) {
            err.println(VERIFY_TIMEOUT + "='" + value + "' is not a duration such as 30s or 2m (for example "
                    + VERIFY_TIMEOUT + "=60s)");
            return null;
        }
        return parsed;
    }

    private @Nullable Integer minInstances() {
        String value = env.apply(VERIFY_MIN_INSTANCES);
        if (value == null) {
            return 1;
        }
        try {
            int n = Integer.parseInt(value);
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        err.println(VERIFY_MIN_INSTANCES + "='" + value + "' is not a count of 1 or more (for example "
                + VERIFY_MIN_INSTANCES + "=3, the replicas the deployment runs)");
        return null;
    }

    private @Nullable URI uri(String value) {
        try {
            URI uri = URI.create(value);
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
                return uri;
            }
        } catch (IllegalArgumentException ignored) {
            // reported below
        }
        err.println("'" + value + "' is not an http(s) URL (for example http://chorus:8080)");
        return null;
    }

    private static void pause() throws InterruptedException {
        // Retrying a server that is still starting: a pause between attempts, not synchronisation.
        Thread.sleep(1_000);
    }
}
