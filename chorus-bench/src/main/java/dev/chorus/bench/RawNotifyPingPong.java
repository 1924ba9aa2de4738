package dev.chorus.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * The raw ping-pong baseline: two pgjdbc auto-commit connections issue {@code SELECT pg_notify(...)}, two
 * bare vertx-pg-client listeners receive. Listener B hears the ping channel and answers on the pong
 * channel from its event loop; listener A hears the pong channel and times the round trip there.
 */
final class RawNotifyPingPong implements FanOut {

    static final String VARIANT = "raw pg_notify ↔ vertx LISTEN";

    private static final String SQL = "SELECT pg_notify(?, ?)";

    private final Connection connectionA;
    private final Connection connectionB;
    private final PreparedStatement pingStatement;
    private final PreparedStatement pongStatement;
    private final RawListener listenerA;
    private final RawListener listenerB;
    private final Receiver receiver = new Receiver();
    private final LongAdder failures = new LongAdder();

    RawNotifyPingPong(BenchPostgres postgres) throws SQLException {
        String ping = postgres.uniqueChannel("ping");
        String pong = postgres.uniqueChannel("pong");
        connectionA = postgres.connect();
        connectionB = postgres.connect();
        RawListener b = null;
        try {
            pingStatement = connectionA.prepareStatement(SQL);
            pingStatement.setString(1, ping);
            pongStatement = connectionB.prepareStatement(SQL);
            pongStatement.setString(1, pong);
            // B answers on its event loop: a blocking call there delays nothing else with one message in
            // flight, and it is the shortest path a hand-written responder can take.
            b = RawListener.listen(postgres, ping, (payload, now) -> answer(payload));
            listenerA = RawListener.listen(
                    postgres,
                    pong,
                    (payload, now) -> receiver.accept(Base64.getDecoder().decode(payload), now));
            listenerB = b;
        } catch (SQLException | RuntimeException e) {
            if (b != null) {
                b.close();
            }
            connectionA.close();
            connectionB.close();
            throw e;
        }
    }

    private void answer(String payload) {
        try {
            pongStatement.setString(2, payload);
            pongStatement.executeQuery().close();
        } catch (SQLException e) {
            failures.increment();
        }
    }

    @Override
    public String variant() {
        return VARIANT;
    }

    @Override
    public List<Receiver> receivers() {
        return List.of(receiver);
    }

    @Override
    public void publish(byte[] payload) {
        try {
            pingStatement.setString(2, Base64.getEncoder().encodeToString(payload));
            pingStatement.executeQuery().close();
        } catch (SQLException e) {
            failures.increment();
        }
    }

    @Override
    public long lossSignals() {
        return failures.sum();
    }

    @Override
    public void close() {
        listenerA.close();
        listenerB.close();
        try {
            connectionA.close();
            connectionB.close();
        } catch (SQLException e) {
            // Closing anyway.
        }
    }
}
