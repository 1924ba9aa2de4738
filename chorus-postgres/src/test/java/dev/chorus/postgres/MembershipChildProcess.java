package dev.chorus.postgres;

import dev.chorus.ReplicaId;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A replica in its own JVM for {@link PostgresMembershipProcessIT}: joins, prints {@code READY <uuid>}, and
 * leaves cleanly when it reads {@code close} on stdin (or stdin ends).
 *
 * <p>Arguments: JDBC URL, schema, cluster, replica name.
 */
public final class MembershipChildProcess {

    static final String READY = "READY ";
    static final String CLOSED = "CLOSED";

    private MembershipChildProcess() {}

    /** Runs one member until told to close. */
    public static void main(String[] args) throws Exception {
        try (PostgresDatabase database =
                        PostgresDatabase.builder(args[0]).schema(args[1]).build();
                PostgresMembership membership = PostgresMembership.builder(database, ReplicaId.random(args[3]))
                        .cluster(args[2])
                        .heartbeatInterval(PostgresMembershipIT.INTERVAL)
                        .expiry(PostgresMembershipIT.EXPIRY)
                        .build()) {
            System.out.println(READY + membership.self().id().uuid());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            do {
                line = in.readLine();
            } while (line != null && !line.equals("close"));
        }
        System.out.println(CLOSED);
        System.out.flush();
    }

    /** How long the parent allows a child JVM to start and join. */
    static Duration startTimeout() {
        return Duration.ofSeconds(60);
    }
}
