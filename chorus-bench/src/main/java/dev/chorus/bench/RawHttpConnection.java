package dev.chorus.bench;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client on one keep-alive socket: writes a prepared request, reads the status line, the
 * headers and a {@code Content-Length} or chunked body, then is ready for the next request. No TLS, no
 * redirects, no pipelining; just enough to drive a local server without a client library's own cost.
 */
final class RawHttpConnection implements HttpLoad.Connection {

    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    /** Longer than any response of a healthy run; a stuck read becomes an error, not a hung benchmark. */
    private static final int READ_TIMEOUT_MILLIS = 30_000;

    private static final int MAX_RESPONSE_BYTES = 4 << 20;
    private static final byte[] CONTENT_LENGTH = ascii("content-length");
    private static final byte[] TRANSFER_ENCODING = ascii("transfer-encoding");
    private static final byte[] CONNECTION = ascii("connection");
    private static final byte[] CHUNKED = ascii("chunked");
    private static final byte[] CLOSE = ascii("close");

    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final byte[] request;
    private byte[] buffer = new byte[16 * 1024];
    /** Bytes {@code [0, filled)} of {@link #buffer} came from the socket. */
    private int filled;

    private RawHttpConnection(Socket socket, byte[] request) throws IOException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.in = socket.getInputStream();
        this.request = request;
    }

    /** Connects to {@code address} to send {@code request} over and over. */
    static RawHttpConnection open(SocketAddress address, byte[] request) throws IOException {
        Socket socket = new Socket();
        try {
            // Requests are written in one piece and answered before the next: Nagle would only add delay.
            socket.setTcpNoDelay(true);
            socket.connect(address, CONNECT_TIMEOUT_MILLIS);
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            return new RawHttpConnection(socket, request);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * The bytes of a {@code GET path} request with {@code Host} and the given headers, kept alive.
     *
     * @param headers extra header lines, name to value, in iteration order
     */
    static byte[] get(InetSocketAddress address, String path, Map<String, String> headers) {
        StringBuilder text = new StringBuilder("GET ")
                .append(path)
                .append(" HTTP/1.1\r\nHost: ")
                .append(address.getHostString())
                .append(':')
                .append(address.getPort())
                .append("\r\n");
        headers.forEach(
                (name, value) -> text.append(name).append(": ").append(value).append("\r\n"));
        return text.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public HttpLoad.Response exchange() throws IOException {
        out.write(request);
        int headerEnd = readHeaders();
        int status = status();
        long contentLength = -1;
        boolean chunked = false;
        boolean close = false;
        int line = lineEnd(0) + 2;
        while (line < headerEnd - 2) {
            int end = lineEnd(line);
            int colon = indexOf((byte) ':', line, end);
            if (colon > 0) {
                int value = skipSpaces(colon + 1, end);
                if (nameIs(line, colon, CONTENT_LENGTH)) {
                    contentLength = parseDecimal(value, end);
                } else if (nameIs(line, colon, TRANSFER_ENCODING)) {
                    chunked = contains(value, end, CHUNKED);
                } else if (nameIs(line, colon, CONNECTION)) {
                    close = contains(value, end, CLOSE);
                }
            }
            line = end + 2;
        }
        long bodyBytes;
        int next;
        if (chunked) {
            long[] total = new long[1];
            next = readChunked(headerEnd, total);
            bodyBytes = total[0];
        } else if (contentLength >= 0) {
            if (contentLength > MAX_RESPONSE_BYTES) {
                throw new IOException("response body of " + contentLength + " bytes is larger than this client reads");
            }
            next = headerEnd + (int) contentLength;
            fillTo(next);
            bodyBytes = contentLength;
        } else {
            throw new IOException("response has neither Content-Length nor chunked encoding: cannot keep it alive");
        }
        consume(next);
        return new HttpLoad.Response(status, bodyBytes, !close);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** Reads until the blank line that ends the headers; returns the index just past it. */
    private int readHeaders() throws IOException {
        int scanned = 0;
        while (true) {
            for (int i = Math.max(scanned, 3); i < filled; i++) {
                if (buffer[i] == '\n' && buffer[i - 1] == '\r' && buffer[i - 2] == '\n' && buffer[i - 3] == '\r') {
                    return i + 1;
                }
            }
            scanned = filled;
            readMore();
        }
    }

    /** The status code of {@code HTTP/1.x NNN reason} at the start of the buffer. */
    private int status() throws IOException {
        int space = indexOf((byte) ' ', 0, lineEnd(0));
        if (space < 0 || space + 4 > filled) {
            throw new IOException("malformed status line");
        }
        return (int) parseDecimal(space + 1, space + 4);
    }

    /** Reads a chunked body starting at {@code from}, trailers included; returns the index just past it. */
    private int readChunked(int from, long[] total) throws IOException {
        int position = from;
        while (true) {
            int end = fillLine(position);
            long size = 0;
            for (int i = position; i < end && buffer[i] != ';' && buffer[i] != ' '; i++) {
                int digit = Character.digit(buffer[i], 16);
                if (digit < 0) {
                    throw new IOException("malformed chunk size");
                }
                size = size * 16 + digit;
            }
            position = end + 2;
            if (size == 0) {
                int trailer = fillLine(position);
                while (trailer != position) {
                    position = trailer + 2;
                    trailer = fillLine(position);
                }
                return position + 2;
            }
            total[0] += size;
            if (total[0] > MAX_RESPONSE_BYTES) {
                throw new IOException("chunked response larger than this client reads");
            }
            position += (int) size + 2;
            fillTo(position);
        }
    }

    /** Makes sure a whole line starting at {@code from} is buffered; returns the index of its CR. */
    private int fillLine(int from) throws IOException {
        while (true) {
            for (int i = from; i + 1 < filled; i++) {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n') {
                    return i;
                }
            }
            readMore();
        }
    }

    private void fillTo(int position) throws IOException {
        while (filled < position) {
            readMore();
        }
    }

    private void readMore() throws IOException {
        if (filled == buffer.length) {
            if (buffer.length >= MAX_RESPONSE_BYTES) {
                throw new IOException("response larger than " + MAX_RESPONSE_BYTES + " bytes");
            }
            buffer = Arrays.copyOf(buffer, buffer.length * 2);
        }
        int read = in.read(buffer, filled, buffer.length - filled);
        if (read < 0) {
            throw new EOFException("server closed the connection after " + filled + " bytes of a response");
        }
        filled += read;
    }

    /** Drops a finished response, keeping bytes that came after it (none unless the server sent extra). */
    private void consume(int next) throws IOException {
        if (next > filled) {
            fillTo(next);
        }
        System.arraycopy(buffer, next, buffer, 0, filled - next);
        filled -= next;
    }

    /** The index of the CR of the line starting at {@code from}, within the buffered headers. */
    private int lineEnd(int from) {
        for (int i = from; i + 1 < filled; i++) {
            if (buffer[i] == '\r' && buffer[i + 1] == '\n') {
                return i;
            }
        }
        return filled;
    }

    private int indexOf(byte wanted, int from, int to) {
        for (int i = from; i < to; i++) {
            if (buffer[i] == wanted) {
                return i;
            }
        }
        return -1;
    }

    private int skipSpaces(int from, int to) {
        int i = from;
        while (i < to && (buffer[i] == ' ' || buffer[i] == '\t')) {
            i++;
        }
        return i;
    }

    private boolean nameIs(int from, int colon, byte[] lowerName) {
        if (colon - from != lowerName.length) {
            return false;
        }
        for (int i = 0; i < lowerName.length; i++) {
            if (lower(buffer[from + i]) != lowerName[i]) {
                return false;
            }
        }
        return true;
    }

    private boolean contains(int from, int to, byte[] lowerToken) {
        outer:
        for (int i = from; i + lowerToken.length <= to; i++) {
            for (int j = 0; j < lowerToken.length; j++) {
                if (lower(buffer[i + j]) != lowerToken[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private long parseDecimal(int from, int to) throws IOException {
        long value = 0;
        int i = from;
        for (; i < to && buffer[i] >= '0' && buffer[i] <= '9'; i++) {
            value = value * 10 + (buffer[i] - '0');
        }
        if (i == from) {
            throw new IOException("expected a number in the response head");
        }
        return value;
    }

    private static byte lower(byte b) {
        return b >= 'A' && b <= 'Z' ? (byte) (b + ('a' - 'A')) : b;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
