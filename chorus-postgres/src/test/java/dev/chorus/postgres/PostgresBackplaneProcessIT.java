package dev.chorus.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.chorus.backplane.Message;
import dev.chorus.testkit.TestPostgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Replicas in separate JVM processes exchange messages through PostgreSQL. */
class PostgresBackplaneProcessIT {

    private final PgTestCluster cluster = new PgTestCluster("proc");
    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (Process child : children) {
            child.destroyForcibly().waitFor();
        }
        cluster.close();
    }

    @Test
    void twoReplicasInOtherProcesses_answerAReplicaInThisOne() throws Exception {
        Process first = start("child-1");
        Process second = start("child-2");
        PostgresBackplane here = cluster.replica("here");
        List<String> pongs = new CopyOnWriteArrayList<>();
        here.subscribe("pong", envelope -> pongs.add(envelope.origin().name() + " " + envelope.payloadAsString()));
        await().atMost(Duration.ofSeconds(15)).until(() -> here.health().isHealthy());

        here.publish(Message.of("ping", "1")).join();
        here.publish(Message.of("ping", "2")).join();

        await().atMost(Duration.ofSeconds(15)).until(() -> pongs.size() == 4);
        assertThat(pongs)
                .containsExactlyInAnyOrder("child-1 echo:1", "child-1 echo:2", "child-2 echo:1", "child-2 echo:2");
        quit(first);
        quit(second);
    }

    private Process start(String name) throws Exception {
        TestPostgres server = cluster.schema.server();
        String password = server.password() == null ? "" : server.password();
        String url = "postgres://" + URLEncoder.encode(server.user(), StandardCharsets.UTF_8)
                + (password.isEmpty() ? "" : ":" + URLEncoder.encode(password, StandardCharsets.UTF_8)) + "@"
                + server.host() + ":" + server.port() + "/" + server.database();
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(
                        java.toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        EchoReplicaMain.class.getName(),
                        url,
                        cluster.schema.name(),
                        cluster.channel,
                        name)
                .redirectErrorStream(true)
                .start();
        children.add(process);
        BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread.ofVirtual().start(() -> {
            try {
                String line;
                while ((line = out.readLine()) != null) {
                    lines.add(line);
                }
            } catch (java.io.IOException ignored) {
                // the child exited
            }
        });
        await().atMost(Duration.ofSeconds(30))
                .failFast(() -> !process.isAlive())
                .until(() -> lines.stream().anyMatch(l -> l.startsWith("READY")));
        return process;
    }

    private static void quit(Process process) throws Exception {
        Writer in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        in.write("quit\n");
        in.flush();
        assertThat(process.waitFor(
                        java.util.concurrent.TimeUnit.SECONDS.toMillis(15), java.util.concurrent.TimeUnit.MILLISECONDS))
                .isTrue();
        assertThat(process.exitValue()).isZero();
    }
}
