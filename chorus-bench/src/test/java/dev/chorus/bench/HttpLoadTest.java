package dev.chorus.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The benchmark's own HTTP plumbing against a scripted loopback server: the raw client's framing
 * (Content-Length, chunked, {@code Connection: close}), the generator's error counting, and the parsers of
 * {@code /metrics} and wrk reports.
 */
class HttpLoadTest {

    private ServerSocket server;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();
    private volatile List<String> responses = List.of();

    @BeforeEach
    void startServer() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    accepted.add(socket);
                    Thread.ofVirtual().start(() -> serve(socket));
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stopServer() throws IOException {
        server.close();
        for (Socket socket : accepted) {
            socket.close();
        }
    }

    /** Answers each request (read up to its blank line) with the next scripted response, round robin. */
    private void serve(Socket socket) {
        try (socket;
                InputStream in = socket.getInputStream();
                OutputStream out = socket.getOutputStream()) {
            int served = 0;
            int matched = 0;
            int b;
            while ((b = in.read()) >= 0) {
                matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
                if (matched == 4) {
                    matched = 0;
                    List<String> script = responses;
                    out.write(script.get(served++ % script.size()).getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            }
        } catch (IOException ignored) {
            // The client closed the connection.
        }
    }

    private RawHttpConnection connect() throws IOException {
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", server.getLocalPort());
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Authorization", "Bearer t");
        return RawHttpConnection.open(address, RawHttpConnection.get(address, "/x", headers));
    }

    @Test
    void exchange_readsContentLengthAndChunkedBodiesOnOneConnection() throws Exception {
        responses = List.of(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\n",
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        try (RawHttpConnection connection = connect()) {
            assertThat(connection.exchange()).isEqualTo(new HttpLoad.Response(200, 5, true));
            assertThat(connection.exchange()).isEqualTo(new HttpLoad.Response(200, 13, true));
            assertThat(connection.exchange()).isEqualTo(new HttpLoad.Response(404, 0, true));
            assertThat(connection.exchange()).isEqualTo(new HttpLoad.Response(200, 2, false));
        }
        assertThat(accepted).hasSize(1);
    }

    @Test
    void run_countsWrongStatusesAndLengthsAsErrorsAndReopensClosedConnections() {
        responses = List.of(
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                "HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nabc",
                "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
        long millis = TimeUnit.MILLISECONDS.toNanos(1);

        HttpLoad.Result result = HttpLoad.run(this::connect, 2, 3, 50 * millis, 200 * millis, () -> {}, () -> {});

        assertThat(result.requests()).isPositive();
        assertThat(result.latency().count()).isEqualTo(result.requests());
        assertThat(result.errors()).isPositive();
        assertThat(result.firstError()).startsWith("HTTP ");
        assertThat(result.opened()).isGreaterThan(2);
    }

    @Test
    void jdkHttpConnection_reusesOneConnectionPerClient() throws Exception {
        responses = List.of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
        URI uri = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/x");

        for (int client = 0; client < 3; client++) {
            try (JdkHttpConnection connection = JdkHttpConnection.open(uri, Map.of())) {
                for (int i = 0; i < 20; i++) {
                    assertThat(connection.exchange()).isEqualTo(new HttpLoad.Response(200, 3, true));
                }
            }
        }

        assertThat(accepted).hasSize(3);
    }

    @Test
    void prometheusText_sumsSamplesWhoseLabelsHoldBraces() {
        PrometheusText text = PrometheusText.parse("""
                # HELP x_seconds a timer
                x_seconds_count{method="GET",route="/api/{type}/{id}",status="200"} 3
                x_seconds_count{method="GET",route="*",status="200"} 4.0
                x_seconds_count{method="GET",route="*",status="404"} 100
                x_seconds_countless 7
                y 1.5E2
                """);

        assertThat(text.sum("x_seconds_count", "status=\"200\"")).isEqualTo(7.0);
        assertThat(text.sum("x_seconds_count")).isEqualTo(107.0);
        assertThat(text.sum("y")).isEqualTo(150.0);
    }

    @Test
    void wrkRun_parsesTheLatencyReport() {
        WrkRun run = WrkRun.parse("""
                Running 15s test @ http://127.0.0.1:1/health/live
                  2 threads and 16 connections
                  Thread Stats   Avg      Stdev     Max   +/- Stdev
                    Latency   507.65us  360.57us  12.76ms   94.98%
                    Req/Sec    16.57k     1.23k   19.28k    73.67%
                  Latency Distribution
                     50%  438.00us
                     75%  539.00us
                     90%  682.00us
                     99%    1.84ms
                  494821 requests in 15.00s, 92.13MB read
                  Socket errors: connect 0, read 1, write 0, timeout 2
                  Non-2xx or 3xx responses: 5
                Requests/sec:  32982.31
                Transfer/sec:      6.14MB
                """);

        assertThat(run).isEqualTo(new WrkRun(494_821, 32_982.31, 438.0, 1_840.0, 12_760.0, 8));
    }
}
