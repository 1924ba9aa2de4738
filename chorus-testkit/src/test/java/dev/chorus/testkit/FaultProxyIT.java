package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FaultProxyIT {

    private static final Duration READ_TIMEOUT = Duration.ofSeconds(5);

    private EchoServer echo;
    private FaultProxy proxy;
    private final List<Socket> clients = new ArrayList<>();

    @BeforeEach
    void startProxy() throws IOException {
        echo = new EchoServer();
        proxy = FaultProxy.start("127.0.0.1", echo.port());
    }

    @AfterEach
    void stopProxy() throws IOException {
        for (Socket client : clients) {
            client.close();
        }
        proxy.close();
        echo.close();
    }

    @Test
    void forwardsBytesBothWays() throws IOException {
        byte[] payload = new byte[256 * 1024];
        new Random(42).nextBytes(payload);
        Socket client = connect();

        Thread.ofVirtual().start(() -> {
            try {
                client.getOutputStream().write(payload);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });

        assertThat(client.getInputStream().readNBytes(payload.length)).isEqualTo(payload);
        assertThat(proxy.host()).isEqualTo("127.0.0.1");
        assertThat(proxy.connectionCount()).isEqualTo(1);
    }

    @Test
    void closingTheClient_closesTheUpstreamConnection() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "hi")).isEqualTo("hi");

        client.shutdownOutput();

        assertThat(client.getInputStream().read()).isEqualTo(-1);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.connectionCount() == 0 && echo.openConnections() == 0);
    }

    @Test
    void latency_delaysEachDirection_andHealRemovesIt() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "warm-up")).isEqualTo("warm-up");

        proxy.latency(Duration.ofMillis(300));
        long start = System.nanoTime();
        assertThat(roundTrip(client, "slow")).isEqualTo("slow");
        Duration slow = Duration.ofNanos(System.nanoTime() - start);

        proxy.heal();
        start = System.nanoTime();
        assertThat(roundTrip(client, "fast")).isEqualTo("fast");
        Duration fast = Duration.ofNanos(System.nanoTime() - start);

        assertThat(slow).isGreaterThanOrEqualTo(Duration.ofMillis(600));
        assertThat(fast).isLessThan(Duration.ofMillis(300));
    }

    @Test
    void latency_keepsChunksInOrder() throws IOException {
        Socket client = connect();
        proxy.latency(Duration.ofMillis(50));
        StringBuilder sent = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            String part = i + ",";
            client.getOutputStream().write(part.getBytes(UTF_8));
            sent.append(part);
        }

        String received = new String(client.getInputStream().readNBytes(sent.length()), UTF_8);

        assertThat(received).isEqualTo(sent.toString());
    }

    @Test
    void freeze_holdsBytesWithoutClosing_andHealDeliversThem() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "before")).isEqualTo("before");
        long echoedBefore = echo.bytesReceived();
        InputStream in = client.getInputStream();

        proxy.freeze();
        client.getOutputStream().write("held".getBytes(UTF_8));

        await().during(Duration.ofMillis(500))
                .atMost(Duration.ofSeconds(2))
                .until(() -> in.available() == 0 && echo.bytesReceived() == echoedBefore);
        assertThat(proxy.connectionCount()).isEqualTo(1);
        assertThat(echo.openConnections()).isEqualTo(1);
        assertThat(client.isClosed()).isFalse();

        proxy.heal();

        assertThat(new String(in.readNBytes(4), UTF_8)).isEqualTo("held");
        assertThat(roundTrip(client, "after")).isEqualTo("after");
    }

    @Test
    void freeze_holdsTheFinToo() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "x")).isEqualTo("x");

        proxy.freeze();
        client.shutdownOutput();

        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> echo.openConnections() == 1);

        proxy.heal();

        assertThat(client.getInputStream().read()).isEqualTo(-1);
        await().atMost(Duration.ofSeconds(5)).until(() -> echo.openConnections() == 0);
    }

    @Test
    void cut_resetsBothSides() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "alive")).isEqualTo("alive");

        proxy.cut();

        assertThat(readOutcome(client)).isIn("reset", "eof");
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.connectionCount() == 0 && echo.openConnections() == 0);
    }

    @Test
    void cut_duringFreeze_dropsHeldBytes() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "alive")).isEqualTo("alive");
        proxy.freeze();
        client.getOutputStream().write("lost".getBytes(UTF_8));

        proxy.cut();
        proxy.heal();

        assertThat(readOutcome(client)).isIn("reset", "eof");
        assertThat(roundTrip(connect(), "new")).isEqualTo("new");
    }

    @Test
    void refuse_resetsNewConnections_untilHealed() throws IOException {
        Socket existing = connect();
        assertThat(roundTrip(existing, "old")).isEqualTo("old");
        int accepted = echo.acceptedConnections();

        proxy.refuse(true);

        assertThat(readOutcome(connect())).isIn("reset", "eof");
        assertThat(echo.acceptedConnections()).isEqualTo(accepted);
        assertThat(roundTrip(existing, "still")).isEqualTo("still");

        proxy.heal();

        assertThat(roundTrip(connect(), "again")).isEqualTo("again");
    }

    @Test
    void close_isIdempotent_andStopsListening() throws IOException {
        Socket client = connect();
        assertThat(roundTrip(client, "bye")).isEqualTo("bye");

        proxy.close();
        proxy.close();

        assertThat(readOutcome(client)).isIn("reset", "eof");
        assertThat(reachesTheEchoServer(proxy.port())).isFalse();
    }

    /**
     * Whether a new connection to {@code port} still reaches the echo server behind the closed proxy. A refused
     * connection is the usual answer; the port is ephemeral, though, so another program may have bound it since,
     * and then the test must only prove that our echo server is not behind it.
     */
    private boolean reachesTheEchoServer(int port) {
        try (Socket socket = new Socket(proxy.host(), port)) {
            socket.setSoTimeout(1_000);
            return roundTrip(socket, "still there?").equals("still there?");
        } catch (ConnectException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void carriesThePostgresProtocol_andCutBreaksTheSession() throws SQLException {
        TestPostgres postgres = TestPostgres.server();
        try (FaultProxy pgProxy = FaultProxy.start(postgres.host(), postgres.port());
                Connection connection = DriverManager.getConnection(postgres.jdbcUrl()
                        .replace(postgres.host() + ":" + postgres.port(), pgProxy.host() + ":" + pgProxy.port()));
                Statement statement = connection.createStatement()) {
            try (ResultSet result = statement.executeQuery("SELECT 41 + 1")) {
                assertThat(result.next()).isTrue();
                assertThat(result.getInt(1)).isEqualTo(42);
            }

            pgProxy.cut();

            assertThatThrownBy(() -> statement.executeQuery("SELECT 1")).isInstanceOf(SQLException.class);
            assertThat(connection.isValid(1)).isFalse();
        }
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket(proxy.host(), proxy.port());
        socket.setSoTimeout(Math.toIntExact(READ_TIMEOUT.toMillis()));
        socket.setTcpNoDelay(true);
        clients.add(socket);
        return socket;
    }

    private static String roundTrip(Socket client, String message) throws IOException {
        byte[] bytes = message.getBytes(UTF_8);
        client.getOutputStream().write(bytes);
        return new String(client.getInputStream().readNBytes(bytes.length), UTF_8);
    }

    /** Reads until the connection ends, within the read timeout: "eof" for a FIN, "reset" for an RST. */
    private static String readOutcome(Socket client) {
        try {
            InputStream in = client.getInputStream();
            while (in.read() >= 0) {
                // Discard anything still in flight.
            }
            return "eof";
        } catch (java.net.SocketTimeoutException e) {
            return "timeout";
        } catch (IOException e) {
            return "reset";
        }
    }
}
