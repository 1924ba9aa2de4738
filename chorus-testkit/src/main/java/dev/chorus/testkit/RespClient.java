package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A minimal blocking Redis client speaking RESP2 over one socket, for poking at a server from tests ({@code CLIENT
 * KILL}, {@code CONFIG SET}, {@code SHUTDOWN NOSAVE}, publishing arbitrary bytes). Not thread-safe.
 *
 * <p>I/O failures surface as {@link UncheckedIOException}; a server that closes the connection surfaces as one whose
 * cause is an {@link EOFException}. Error replies are returned, not thrown.
 */
public final class RespClient implements AutoCloseable {

    /** Connect timeout and read timeout unless told otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private static final byte[] CRLF = {'\r', '\n'};

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private RespClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = new BufferedOutputStream(socket.getOutputStream());
    }

    /** Connects with {@link #DEFAULT_TIMEOUT} for connecting and for each read. */
    public static RespClient connect(String host, int port) {
        return connect(host, port, DEFAULT_TIMEOUT);
    }

    /** Connects with {@code timeout} for connecting and for each read. */
    public static RespClient connect(String host, int port, Duration timeout) {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(Math.toIntExact(timeout.toMillis()));
            socket.connect(new InetSocketAddress(host, port), Math.toIntExact(timeout.toMillis()));
            return new RespClient(socket);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new UncheckedIOException("could not connect to redis://" + host + ":" + port, e);
        }
    }

    /** Sends one command and reads its reply. */
    public RespReply send(String... command) {
        write(command);
        return read();
    }

    /** Sends one command whose arguments are raw bytes and reads its reply. */
    public RespReply send(byte[]... command) {
        write(command);
        return read();
    }

    /** Sends one command without reading a reply: for pipelining, {@code SUBSCRIBE} and {@code SHUTDOWN}. */
    public void write(String... command) {
        byte[][] arguments = new byte[command.length][];
        for (int i = 0; i < command.length; i++) {
            arguments[i] = command[i].getBytes(UTF_8);
        }
        write(arguments);
    }

    /** Sends one command whose arguments are raw bytes, without reading a reply. */
    public void write(byte[]... command) {
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.writeBytes(("*" + command.length + "\r\n").getBytes(UTF_8));
        for (byte[] argument : command) {
            frame.writeBytes(("$" + argument.length + "\r\n").getBytes(UTF_8));
            frame.writeBytes(argument);
            frame.writeBytes(CRLF);
        }
        writeRaw(frame.toByteArray());
    }

    /** Sends bytes exactly as given, for protocol garbage and hand-made frames. */
    public void writeRaw(byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("could not write to " + socket.getRemoteSocketAddress(), e);
        }
    }

    /** Reads the next reply, waiting at most the read timeout. */
    public RespReply read() {
        try {
            return readReply();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read from " + socket.getRemoteSocketAddress(), e);
        }
    }

    @Override
    public void close() {
        closeQuietly(socket);
    }

    private RespReply readReply() throws IOException {
        int type = in.read();
        String line = readLine();
        return switch (type) {
            case '+' -> new RespReply.SimpleString(line);
            case '-' -> new RespReply.ErrorReply(line);
            case ':' -> new RespReply.IntegerReply(Long.parseLong(line));
            case '$' -> new RespReply.BulkString(readBulk(Integer.parseInt(line)));
            case '*' -> new RespReply.ArrayReply(readArray(Integer.parseInt(line)));
            case -1 -> throw new EOFException("connection closed by server");
            default -> throw new IOException("not a RESP2 reply type: '" + (char) type + "' followed by " + line);
        };
    }

    private byte @Nullable [] readBulk(int length) throws IOException {
        if (length < 0) {
            return null;
        }
        byte[] bytes = in.readNBytes(length);
        if (bytes.length < length || in.read() != '\r' || in.read() != '\n') {
            throw new EOFException("connection closed in the middle of a bulk string");
        }
        return bytes;
    }

    private @Nullable List<RespReply> readArray(int length) throws IOException {
        if (length < 0) {
            return null;
        }
        // The count comes from the wire: a server announcing 2^31 - 1 items must not size an allocation.
        List<RespReply> items = new ArrayList<>(Math.min(length, 64));
        for (int i = 0; i < length; i++) {
            items.add(readReply());
        }
        return List.copyOf(items);
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\r'; b = in.read()) {
            if (b == -1) {
                // An empty stream is reported by the caller, which knows no reply started.
                if (line.size() == 0) {
                    return "";
                }
                throw new EOFException("connection closed in the middle of a reply line");
            }
            line.write(b);
        }
        if (in.read() != '\n') {
            throw new IOException("reply line not terminated by CRLF");
        }
        return line.toString(UTF_8);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Nothing useful to do: the socket is unusable either way.
        }
    }
}
