package dev.chorus.postgres;

import dev.chorus.ReplicaId;
import dev.chorus.backplane.Message;
import dev.chorus.testkit.TestSecrets;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * A replica in its own JVM for multi-process tests: subscribes to "ping", answers every message on "pong"
 * with "echo:" + payload, prints READY once listening, and closes cleanly when stdin says "quit".
 *
 * <p>Arguments: database URL, schema, channel, replica name.
 */
public final class EchoReplicaMain {

    private EchoReplicaMain() {}

    /** Runs the replica until told to quit. */
    public static void main(String[] args) throws Exception {
        try (PostgresDatabase db =
                        PostgresDatabase.builder(args[0]).schema(args[1]).build();
                PostgresBackplane backplane = PostgresBackplane.builder(db)
                        .replica(ReplicaId.random(args[3]))
                        .channel(args[2])
                        .secret(TestSecrets.SECRET)
                        .build()) {
            backplane.subscribe("ping", envelope -> {
                if (!envelope.isFrom(backplane.replica())) {
                    backplane.publish(Message.of("pong", "echo:" + envelope.payloadAsString()));
                }
            });
            while (!backplane.health().isHealthy()) {
                Thread.onSpinWait();
                Thread.yield();
            }
            System.out.println("READY " + backplane.replica());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && !line.equals("quit")) {
                // keep running
            }
        }
        System.out.println("BYE");
    }
}
