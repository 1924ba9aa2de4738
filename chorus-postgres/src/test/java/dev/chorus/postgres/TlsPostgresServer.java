package dev.chorus.postgres;

import dev.chorus.testkit.LoopbackPorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL server of its own, started from the machine's binaries with {@code ssl=on}, a certificate signed by
 * a CA made for the test (the openssl CLI), and a pg_hba.conf that refuses plaintext TCP. As root (CI), the
 * binaries run as the {@code postgres} user through runuser, because initdb refuses root.
 */
final class TlsPostgresServer implements AutoCloseable {

    final Path dir;
    final Path ca;
    final Path otherCa;
    final int port;
    private final Path bin;
    private final Path data;

    private TlsPostgresServer(Path bin, Path dir, int port) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
        this.ca = dir.resolve("ca.crt");
        this.otherCa = dir.resolve("other-ca.crt");
        this.data = dir.resolve("data");
    }

    /** Why this machine cannot run the server, or empty when it can. */
    static Optional<String> unavailable() {
        if (binaries().isEmpty()) {
            return Optional.of("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin");
        }
        if (!Files.isExecutable(Path.of("/usr/bin/openssl")) && !onPath("openssl")) {
            return Optional.of("no openssl CLI to make the test CA");
        }
        if (isRoot() && !Files.isExecutable(Path.of("/usr/sbin/runuser")) && !onPath("runuser")) {
            return Optional.of("running as root, and no runuser to start PostgreSQL as another user");
        }
        if (isRoot() && !hasPostgresUser()) {
            return Optional.of("running as root, and there is no 'postgres' user to run initdb as");
        }
        return Optional.empty();
    }

    /** Makes the certificates, initialises a cluster and starts it on a free loopback port. */
    static TlsPostgresServer start() throws Exception {
        Path dir = Files.createTempDirectory("chorus-tls-pg");
        TlsPostgresServer server = new TlsPostgresServer(binaries().orElseThrow(), dir, LoopbackPorts.free(0));
        server.makeCertificates();
        if (isRoot()) {
            run(dir, List.of("chown", "-R", "postgres:postgres", dir.toString()));
        }
        server.asServerUser(List.of(
                server.bin.resolve("initdb").toString(),
                "-D",
                server.data.toString(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync"));
        Files.writeString(server.data.resolve("pg_hba.conf"), """
                local all all trust
                hostssl all all 127.0.0.1/32 trust
                hostssl all all 127.0.0.2/32 trust
                """);
        server.asServerUser(List.of(
                server.bin.resolve("pg_ctl").toString(),
                "-D",
                server.data.toString(),
                "-l",
                dir.resolve("server.log").toString(),
                "-w",
                "-t",
                "60",
                "-o",
                "-p " + server.port + " -k " + dir + " -c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on"
                        + " -c ssl_cert_file=" + dir.resolve("server.crt") + " -c ssl_key_file="
                        + dir.resolve("server.key") + " -c fsync=off",
                "start"));
        return server;
    }

    /** A DATABASE_URL for this server at {@code host} with {@code query} (without the '?'). */
    String url(String host, String query) {
        return "postgres://postgres@" + host + ":" + port + "/postgres" + (query.isEmpty() ? "" : "?" + query);
    }

    private void makeCertificates() throws Exception {
        Files.writeString(
                dir.resolve("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n", StandardCharsets.US_ASCII);
        for (String name : List.of("ca", "other-ca")) {
            run(
                    dir,
                    List.of(
                            "openssl",
                            "req",
                            "-x509",
                            "-newkey",
                            "rsa:2048",
                            "-nodes",
                            "-days",
                            "2",
                            "-subj",
                            "/CN=chorus test " + name,
                            "-keyout",
                            name + ".key",
                            "-out",
                            name + ".crt"));
        }
        run(
                dir,
                List.of(
                        "openssl",
                        "req",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-subj",
                        "/CN=localhost",
                        "-keyout",
                        "server.key",
                        "-out",
                        "server.csr"));
        run(
                dir,
                List.of(
                        "openssl",
                        "x509",
                        "-req",
                        "-in",
                        "server.csr",
                        "-CA",
                        "ca.crt",
                        "-CAkey",
                        "ca.key",
                        "-CAcreateserial",
                        "-days",
                        "2",
                        "-extfile",
                        "server.ext",
                        "-out",
                        "server.crt"));
        run(dir, List.of("chmod", "600", "server.key"));
    }

    private void asServerUser(List<String> command) throws Exception {
        List<String> full = new ArrayList<>();
        if (isRoot()) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        run(dir, full);
    }

    private static void run(Path dir, List<String> command) throws Exception {
        Process process = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("'" + String.join(" ", command) + "' failed: " + output);
        }
    }

    private static Optional<Path> binaries() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparing(b -> versionOf(b.getParent())));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static int versionOf(Path dir) {
        try {
            return Integer.parseInt(dir.getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        return path != null && Stream.of(path.split(":")).anyMatch(p -> Files.isExecutable(Path.of(p, tool)));
    }

    private static boolean hasPostgresUser() {
        try (Stream<String> lines = Files.lines(Path.of("/etc/passwd"))) {
            return lines.anyMatch(line -> line.startsWith("postgres:"));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    @Override
    public void close() throws Exception {
        try {
            asServerUser(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "stop"));
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
