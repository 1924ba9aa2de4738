package dev.chorus.server.destinations;

import dev.chorus.internal.FailureLog;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.jspecify.annotations.Nullable;

/**
 * One webhook POST over HTTP/1.1, to an address {@link TargetPolicy#resolve} checked just before.
 *
 * <p>Why not {@code java.net.http.HttpClient}: it resolves the host itself, after any check of ours, so a
 * name re-pointed in between (DNS rebinding) would reach an address no one checked. Here the checked
 * address is the one connected to; the URL's host still goes in the {@code Host} header, the TLS server
 * name and the certificate check. One request per connection ({@code Connection: close}); only the status
 * line and headers of the answer are read; redirects are never followed.
 */
final class WebhookClient {

    /** Opens a TCP connection; a seam so tests can prove no connection was attempted. */
    @FunctionalInterface
    interface Connector {
        /** A socket connected to {@code address}, or an exception. */
        Socket connect(InetSocketAddress address, int timeoutMillis) throws IOException;
    }

    /** Plain TCP through the JDK. */
    static final Connector PLAIN = (address, timeoutMillis) -> {
        Socket socket = new Socket();
        try {
            socket.connect(address, timeoutMillis);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    };

    /** An attempt that failed, with its class and the detail only operators see. */
    static final class Failure extends Exception {

        private static final long serialVersionUID = 1L;

        private final DeliveryFailure kind;

        Failure(DeliveryFailure kind, String detail, @Nullable Throwable cause) {
            super(detail, cause, false, false);
            this.kind = kind;
        }

        DeliveryFailure kind() {
            return kind;
        }
    }

    /** The answer's status and, for a redirect, where it pointed. */
    record Response(int status, @Nullable String location) {}

    private static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.[01] ([0-9]{3})(?: .*)?");
    private static final int MAX_LINE = 8 * 1024;
    private static final int MAX_HEAD = 64 * 1024;
    private static final int MAX_INTERIM = 8;

    private final TargetPolicy policy;
    private final Connector connector;
    private final SSLSocketFactory tls;
    private final Duration connectTimeout;
    private final Duration requestTimeout;

    WebhookClient(
            TargetPolicy policy,
            Connector connector,
            SSLSocketFactory tls,
            Duration connectTimeout,
            Duration requestTimeout) {
        this.policy = policy;
        this.connector = connector;
        this.tls = tls;
        this.connectTimeout = connectTimeout;
        this.requestTimeout = requestTimeout;
    }

    /**
     * POSTs {@code body} to {@code uri} with {@code headers}, within the request timeout.
     *
     * @throws Failure when the host may not be reached, no connection could be made, or the answer is not HTTP
     */
    Response post(URI uri, Map<String, String> headers, byte[] body) throws Failure {
        long deadline = System.nanoTime() + requestTimeout.toNanos();
        String host = uri.getHost();
        boolean https = "https".equals(uri.getScheme());
        int port = uri.getPort() != -1 ? uri.getPort() : https ? 443 : 80;
        List<InetAddress> addresses;
        try {
            addresses = policy.resolve(host);
        } catch (TargetPolicy.Blocked e) {
            throw new Failure(DeliveryFailure.BLOCKED, e.getMessage(), null);
        } catch (UnknownHostException e) {
            throw new Failure(DeliveryFailure.DNS, host + " does not resolve", e);
        }
        String where = host + ":" + port;
        try (Socket socket = open(addresses, port, deadline)) {
            where = socket.getInetAddress().getHostAddress() + ":" + port;
            Socket channel = https ? handshake(socket, host, port, deadline) : socket;
            channel.setSoTimeout(remainingMillis(deadline));
            OutputStream out = new BufferedOutputStream(channel.getOutputStream());
            out.write(head(uri, headers, body.length));
            out.write(body);
            out.flush();
            return read(new BufferedInputStream(channel.getInputStream()), channel, deadline);
        } catch (IOException e) {
            throw classify(e, where);
        }
    }

    private Socket open(List<InetAddress> addresses, int port, long deadline) throws IOException, Failure {
        IOException last = null;
        for (InetAddress address : addresses) {
            int timeout = (int) Math.min(connectTimeout.toMillis(), remainingMillis(deadline));
            try {
                return connector.connect(new InetSocketAddress(address, port), timeout);
            } catch (IOException e) {
                last = e;
            }
        }
        throw last != null ? last : new ConnectException("no address");
    }

    private Socket handshake(Socket socket, String host, int port, long deadline) throws IOException, Failure {
        String name = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        SSLSocket ssl = (SSLSocket) tls.createSocket(socket, name, port, true);
        SSLParameters parameters = ssl.getSSLParameters();
        // Without this the JDK checks the certificate chain but not that it names the host.
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        if (TargetPolicy.literal(name).isEmpty()) {
            parameters.setServerNames(
                    List.of(new SNIHostName(name.endsWith(".") ? name.substring(0, name.length() - 1) : name)));
        }
        ssl.setSSLParameters(parameters);
        ssl.setSoTimeout(remainingMillis(deadline));
        ssl.startHandshake();
        return ssl;
    }

    private static byte[] head(URI uri, Map<String, String> headers, int length) {
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        String target = uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
        StringBuilder head = new StringBuilder(512)
                .append("POST ")
                .append(target)
                .append(" HTTP/1.1\r\n")
                .append("Host: ")
                .append(uri.getHost())
                .append(uri.getPort() == -1 ? "" : ":" + uri.getPort())
                .append("\r\nUser-Agent: Chorus-Webhook\r\nContent-Type: application/json\r\nContent-Length: ")
                .append(length)
                .append("\r\nConnection: close\r\n");
        headers.forEach((name, value) ->
                head.append(name).append(": ").append(headerValue(value)).append("\r\n"));
        return head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** The value with anything but visible ASCII percent-encoded, so no value can end the header early. */
    static String headerValue(String value) {
        if (value.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != '%')) {
            return value;
        }
        StringBuilder encoded = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c > 0x20 && c < 0x7f && c != '%') {
                encoded.append((char) c);
            } else {
                encoded.append('%')
                        .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return encoded.toString();
    }

    private static Response read(InputStream in, Socket socket, long deadline) throws IOException, Failure {
        for (int interim = 0; interim <= MAX_INTERIM; interim++) {
            String statusLine = line(in);
            if (statusLine == null) {
                throw new Failure(DeliveryFailure.NETWORK, "the connection closed before an answer", null);
            }
            Matcher status = STATUS_LINE.matcher(statusLine);
            if (!status.matches()) {
                throw new Failure(
                        DeliveryFailure.BAD_RESPONSE, "answered '" + printable(statusLine) + "', not HTTP/1.x", null);
            }
            int code = Integer.parseInt(status.group(1));
            String location = null;
            int size = 0;
            for (String header = line(in); header != null && !header.isEmpty(); header = line(in)) {
                size += header.length();
                if (size > MAX_HEAD) {
                    throw new Failure(DeliveryFailure.BAD_RESPONSE, "answered with headers over 64 KiB", null);
                }
                if (header.regionMatches(true, 0, "Location:", 0, 9)) {
                    location = header.substring(9).strip();
                }
            }
            // 100 Continue and 102/103 are interim: the final answer follows on the same connection.
            if (code != 100 && code != 102 && code != 103) {
                return new Response(code, location);
            }
            socket.setSoTimeout(remainingMillis(deadline));
        }
        throw new Failure(DeliveryFailure.BAD_RESPONSE, "answered only interim statuses", null);
    }

    /** One line without its CR LF, null at the end of the stream. */
    private static @Nullable String line(InputStream in) throws IOException, Failure {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b == -1) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
            }
            if (line.size() >= MAX_LINE) {
                throw new Failure(DeliveryFailure.BAD_RESPONSE, "answered with a line over 8 KiB", null);
            }
            line.write(b);
        }
        String text = line.toString(StandardCharsets.ISO_8859_1);
        return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
    }

    private static int remainingMillis(long deadline) throws Failure {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            throw new Failure(DeliveryFailure.TIMEOUT, "no answer within the request timeout", null);
        }
        return (int) Math.min(Integer.MAX_VALUE, left);
    }

    private static Failure classify(IOException e, String where) {
        String detail = FailureLog.describe(e) + " (" + where + ")";
        String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        DeliveryFailure kind;
        if (e instanceof SSLException) {
            kind = DeliveryFailure.TLS;
        } else if (e instanceof SocketTimeoutException || message.contains("timed out")) {
            kind = DeliveryFailure.TIMEOUT;
        } else if (e instanceof ConnectException && message.contains("refused")) {
            kind = DeliveryFailure.REFUSED;
        } else if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
            kind = DeliveryFailure.UNREACHABLE;
        } else if (e instanceof UnknownHostException) {
            kind = DeliveryFailure.DNS;
        } else {
            kind = DeliveryFailure.NETWORK;
        }
        return new Failure(kind, detail, e);
    }

    /** At most 200 characters of untrusted text, control characters replaced. */
    static String printable(String text) {
        String shown = text.length() > 200 ? text.substring(0, 200) + "…" : text;
        return shown.replaceAll("\\p{Cntrl}", "?");
    }
}
