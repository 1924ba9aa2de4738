package dev.chorus.server.destinations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.Test;

/**
 * The webhook POST without a network: a refused target is refused before any connection is attempted, the
 * connection goes to exactly the checked address with the URL's host in {@code Host}, and every kind of
 * answer or error lands in its failure class. Connections are recorded by a fake connector.
 */
class WebhookClientTest {

    private final List<InetSocketAddress> connects = new CopyOnWriteArrayList<>();

    @Test
    void post_aNameResolvingToAnInternalAddress_neverConnects() {
        for (String address : List.of("10.0.0.1", "169.254.169.254", "127.0.0.1", "fd00::1", "0.0.0.0")) {
            WebhookClient client = client(Set.of(), false, host -> new InetAddress[] {literal(address)}, answering(""));

            assertThatThrownBy(() -> client.post(URI.create("https://hooks.test/x"), Map.of(), new byte[0]))
                    .as(address)
                    .isInstanceOfSatisfying(
                            WebhookClient.Failure.class,
                            f -> assertThat(f.kind()).isEqualTo(DeliveryFailure.BLOCKED))
                    .hasMessageContaining("hooks.test resolved to");
        }
        assertThat(connects).isEmpty();
    }

    @Test
    void post_connectsToTheCheckedAddress_withTheUrlsHostInTheRequest() throws Exception {
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        WebhookClient client = client(
                Set.of("hooks.test"), false, host -> new InetAddress[] {literal("10.9.8.7")}, (address, timeout) -> {
                    connects.add(address);
                    return new FakeSocket("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n", sent);
                });

        WebhookClient.Response response = client.post(
                URI.create("http://hooks.test:8081/in?a=b%20c"),
                Map.of("webhook-id", "msg_1", "Idempotency-Key", "resource.changed:acme/x\r\nInjected: 1@2"),
                "{\"n\":1}".getBytes(StandardCharsets.UTF_8));

        assertThat(response.status()).isEqualTo(204);
        assertThat(connects).containsExactly(new InetSocketAddress(literal("10.9.8.7"), 8081));
        String request = sent.toString(StandardCharsets.ISO_8859_1);
        assertThat(request)
                .startsWith("POST /in?a=b%20c HTTP/1.1\r\nHost: hooks.test:8081\r\n")
                .contains("\r\nContent-Length: 7\r\n")
                .contains("\r\nConnection: close\r\n")
                .contains("\r\nwebhook-id: msg_1\r\n")
                .contains("\r\nIdempotency-Key: resource.changed:acme/x%0D%0AInjected:%201@2\r\n")
                .endsWith("\r\n\r\n{\"n\":1}");
    }

    @Test
    void post_answersAndErrors_landInTheirClass() throws Exception {
        assertThat(post(answering("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\n\r\n")))
                .isEqualTo(new WebhookClient.Response(302, "http://127.0.0.1:1/"));
        assertThat(DeliveryFailure.ofStatus(302)).isEqualTo(DeliveryFailure.REDIRECT);
        assertThat(DeliveryFailure.ofStatus(503)).isEqualTo(DeliveryFailure.HTTP_5XX);
        assertThat(DeliveryFailure.ofStatus(404)).isEqualTo(DeliveryFailure.HTTP_4XX);
        assertThat(DeliveryFailure.ofStatus(429).retried()).isTrue();
        assertThat(DeliveryFailure.ofStatus(200)).isNull();

        assertFails(answering("SSH-2.0-OpenSSH_9.6\r\n"), DeliveryFailure.BAD_RESPONSE, "SSH-2.0");
        assertFails(answering(""), DeliveryFailure.NETWORK, "closed before an answer");
        assertFails(
                (address, timeout) -> {
                    throw new ConnectException("Connection refused");
                },
                DeliveryFailure.REFUSED,
                "Connection refused");
        assertFails(
                (address, timeout) -> {
                    throw new SocketTimeoutException("Connect timed out");
                },
                DeliveryFailure.TIMEOUT,
                "timed out");
    }

    private WebhookClient.Response post(WebhookClient.Connector connector) throws Exception {
        return client(Set.of(), true, host -> new InetAddress[] {literal("10.0.0.2")}, connector)
                .post(URI.create("http://hooks.test/"), Map.of(), new byte[0]);
    }

    private void assertFails(WebhookClient.Connector connector, DeliveryFailure kind, String detail) {
        assertThatThrownBy(() -> post(connector))
                .isInstanceOfSatisfying(
                        WebhookClient.Failure.class, f -> assertThat(f.kind()).isEqualTo(kind))
                .hasMessageContaining(detail);
    }

    private WebhookClient client(
            Set<String> hosts,
            boolean allowPrivate,
            TargetPolicy.Resolver resolver,
            WebhookClient.Connector connector) {
        return new WebhookClient(
                new TargetPolicy(hosts, allowPrivate, resolver),
                connector,
                (SSLSocketFactory) SSLSocketFactory.getDefault(),
                Duration.ofSeconds(1),
                Duration.ofSeconds(2));
    }

    private WebhookClient.Connector answering(String answer) {
        return (address, timeout) -> {
            connects.add(address);
            return new FakeSocket(answer, new ByteArrayOutputStream());
        };
    }

    private static InetAddress literal(String address) {
        return TargetPolicy.literal(address).orElseThrow();
    }

    /** A connected-looking socket over byte arrays. */
    private static final class FakeSocket extends Socket {

        private final InputStream in;
        private final OutputStream out;

        FakeSocket(String answer, OutputStream out) {
            this.in = new ByteArrayInputStream(answer.getBytes(StandardCharsets.ISO_8859_1));
            this.out = out;
        }

        @Override
        public InputStream getInputStream() {
            return in;
        }

        @Override
        public OutputStream getOutputStream() {
            return out;
        }

        @Override
        public InetAddress getInetAddress() {
            return literal("10.0.0.2");
        }

        @Override
        public void setSoTimeout(int timeout) {}

        @Override
        public synchronized void close() {}
    }
}
