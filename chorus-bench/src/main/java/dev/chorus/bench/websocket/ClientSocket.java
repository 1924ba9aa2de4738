package dev.chorus.bench.websocket;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * One client WebSocket of a {@link SocketFleet}: a non-blocking TCP connection from its own source address,
 * the RFC 6455 client handshake, then frames. Every method runs on the fleet's selector thread.
 *
 * <p>A socket is reused for reconnects, so its identity (index, source address, last event id) outlives
 * each connection; everything about one connection is reset by {@link #connect}.
 */
final class ClientSocket {

    enum State {
        IDLE,
        CONNECTING,
        HANDSHAKE,
        OPEN,
        CLOSING,
        CLOSED
    }

    /** Larger frames than this are not part of this protocol; one would mean the parser lost its place. */
    private static final int MAX_PAYLOAD = 1 << 20;
    /** A handshake response longer than this without its blank line is not one. */
    private static final int MAX_RESPONSE_HEAD = 16 * 1024;

    private static final byte[] END_OF_HEAD = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final SocketFleet fleet;
    final int index;
    final InetAddress source;

    State state = State.IDLE;
    private @Nullable SocketChannel channel;
    private @Nullable SelectionKey key;
    private @Nullable String request;
    private @Nullable String expectedAccept;
    private @Nullable ByteBuffer outbox;
    private byte @Nullable [] carry;
    private @Nullable ByteArrayOutputStream fragments;
    private boolean fragmentsAreText;
    private boolean closeSent;

    /** Whether this client asked to close, so the close is not a drop. */
    boolean closeRequested;
    /** The close code the server sent on this connection, -1 before any. */
    int serverCloseCode = -1;
    /** Whether the current connection has received its hello. */
    boolean hello;

    long stateSinceNanos;
    long lastHeardNanos;

    // Outlive a connection: where to resume from, and the reconnect bookkeeping of a storm.
    @Nullable
    String lastId;

    int jitterMs = -1;
    long droppedAtMicros;
    long backAtMicros;
    long reloadAtMicros;
    /** Dropped during a storm and not back yet: kept by the fleet even while closed. */
    boolean reconnecting;

    long reconnectAtNanos;
    int attempts;

    ClientSocket(SocketFleet fleet, int index, InetAddress source) {
        this.fleet = fleet;
        this.index = index;
        this.source = source;
    }

    /** Starts a new connection; a failure is reported to the fleet, never thrown. */
    void connect(Selector selector, InetSocketAddress target, String requestText, String wsKey, long now) {
        state = State.CONNECTING;
        stateSinceNanos = now;
        lastHeardNanos = now;
        hello = false;
        closeRequested = false;
        closeSent = false;
        serverCloseCode = -1;
        carry = null;
        outbox = null;
        fragments = null;
        request = requestText;
        expectedAccept = Frames.acceptFor(wsKey);
        try {
            SocketChannel opened = SocketChannel.open();
            channel = opened;
            opened.configureBlocking(false);
            opened.setOption(StandardSocketOptions.TCP_NODELAY, true);
            opened.bind(new InetSocketAddress(source, 0));
            if (opened.connect(target)) {
                key = opened.register(selector, SelectionKey.OP_READ, this);
                sendRequest();
            } else {
                key = opened.register(selector, SelectionKey.OP_CONNECT, this);
            }
        } catch (IOException | RuntimeException e) {
            fail("connect from " + source.getHostAddress() + ": " + e);
        }
    }

    void onConnectable() {
        try {
            if (requireChannel().finishConnect()) {
                requireKey().interestOps(SelectionKey.OP_READ);
                sendRequest();
            }
        } catch (IOException e) {
            fail("connect from " + source.getHostAddress() + ": " + e);
        }
    }

    private void sendRequest() {
        state = State.HANDSHAKE;
        stateSinceNanos = System.nanoTime();
        send(ByteBuffer.wrap(String.valueOf(request).getBytes(StandardCharsets.US_ASCII)));
    }

    /** Reads everything available, handing complete frames to the fleet; {@code buffer} is shared. */
    void onReadable(ByteBuffer buffer) {
        SocketChannel open = requireChannel();
        // Bounded: a socket that keeps the buffer full yields to the others after a few reads.
        for (int round = 0; round < 16 && state != State.CLOSED; round++) {
            buffer.clear();
            int read;
            try {
                read = open.read(buffer);
            } catch (IOException e) {
                fail(e.toString());
                return;
            }
            if (read < 0) {
                fail(state == State.CLOSING ? null : "end of stream");
                return;
            }
            if (read == 0) {
                return;
            }
            lastHeardNanos = System.nanoTime();
            byte[] data = buffer.array();
            int length = read;
            if (carry != null) {
                byte[] joined = Arrays.copyOf(carry, carry.length + read);
                System.arraycopy(buffer.array(), 0, joined, carry.length, read);
                data = joined;
                length = joined.length;
                carry = null;
            }
            int used = state == State.HANDSHAKE ? consumeHead(data, length) : 0;
            if (state == State.OPEN || state == State.CLOSING) {
                used += consumeFrames(data, used, length - used);
            }
            if (state != State.CLOSED && used < length) {
                carry = Arrays.copyOfRange(data, used, length);
            }
            if (read < buffer.capacity()) {
                return;
            }
        }
    }

    void onWritable() {
        ByteBuffer pending = outbox;
        if (pending == null) {
            requireKey().interestOps(SelectionKey.OP_READ);
            return;
        }
        try {
            requireChannel().write(pending);
        } catch (IOException e) {
            fail(e.toString());
            return;
        }
        if (!pending.hasRemaining()) {
            outbox = null;
            requireKey().interestOps(SelectionKey.OP_READ);
        }
    }

    /** Sends one masked frame. */
    void sendFrame(int opcode, byte[] payload) {
        send(Frames.clientFrame(opcode, payload, fleet.nextMask()));
    }

    /** Starts the closing handshake: a close frame, then waiting for the server's and its end of stream. */
    void close(int code) {
        closeRequested = true;
        if (state == State.OPEN) {
            sendFrame(Frames.CLOSE, Frames.closePayload(code, ""));
            closeSent = true;
            state = State.CLOSING;
            stateSinceNanos = System.nanoTime();
        } else if (state != State.CLOSED && state != State.CLOSING) {
            abort(null);
        }
    }

    /** Closes the TCP connection at once and tells the fleet; {@code error} is null for an orderly end. */
    void abort(@Nullable String error) {
        fail(error);
    }

    private void send(ByteBuffer frame) {
        if (state == State.CLOSED) {
            return;
        }
        ByteBuffer pending = outbox;
        if (pending != null) {
            outbox = ByteBuffer.allocate(pending.remaining() + frame.remaining())
                    .put(pending)
                    .put(frame)
                    .flip();
            return;
        }
        try {
            requireChannel().write(frame);
        } catch (IOException e) {
            fail(e.toString());
            return;
        }
        if (frame.hasRemaining()) {
            outbox = frame;
            requireKey().interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        }
    }

    /** Reads the handshake response; returns the bytes it used, 0 while the head is incomplete. */
    private int consumeHead(byte[] data, int length) {
        int end = indexOf(data, length, END_OF_HEAD);
        if (end < 0) {
            if (length > MAX_RESPONSE_HEAD) {
                fail("handshake response has no end of head within " + MAX_RESPONSE_HEAD + " bytes");
            }
            return 0;
        }
        String head = new String(data, 0, end, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n");
        String[] status = lines[0].split(" ", 3);
        if (status.length < 2 || !status[1].equals("101")) {
            fail("handshake answered '" + lines[0] + "'");
            return length;
        }
        String accept = null;
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon > 0
                    && line.substring(0, colon).strip().toLowerCase(Locale.ROOT).equals("sec-websocket-accept")) {
                accept = line.substring(colon + 1).strip();
            }
        }
        if (!String.valueOf(expectedAccept).equals(accept)) {
            fail("handshake Sec-WebSocket-Accept '" + accept + "' is not '" + expectedAccept + "'");
            return length;
        }
        state = State.OPEN;
        stateSinceNanos = System.nanoTime();
        return end + END_OF_HEAD.length;
    }

    /** Handles every complete frame in the range; returns the bytes used. */
    private int consumeFrames(byte[] data, int offset, int length) {
        int at = offset;
        int end = offset + length;
        while (state == State.OPEN || state == State.CLOSING) {
            Frames.Header header = Frames.header(data, at, end - at);
            if (header == null) {
                break;
            }
            if (header.payloadLength() > MAX_PAYLOAD) {
                fail("frame of " + header.payloadLength() + " bytes: the parser lost its place");
                return length;
            }
            int payload = (int) header.payloadLength();
            if (end - at < header.length() + payload) {
                break;
            }
            int start = at + header.length();
            if (header.masked()) {
                Frames.unmask(data, start, payload, header.mask());
            }
            frame(header, data, start, payload);
            at = start + payload;
        }
        return at - offset;
    }

    private void frame(Frames.Header header, byte[] data, int offset, int length) {
        switch (header.opcode()) {
            case Frames.TEXT, Frames.BINARY -> {
                if (header.fin()) {
                    if (header.opcode() == Frames.TEXT) {
                        fleet.onText(this, data, offset, length);
                    }
                } else {
                    fragments = new ByteArrayOutputStream();
                    fragmentsAreText = header.opcode() == Frames.TEXT;
                    fragments.write(data, offset, length);
                }
            }
            case Frames.CONTINUATION -> {
                ByteArrayOutputStream collected = fragments;
                if (collected == null) {
                    fail("continuation frame without a first fragment");
                    return;
                }
                collected.write(data, offset, length);
                if (header.fin()) {
                    fragments = null;
                    if (fragmentsAreText) {
                        byte[] message = collected.toByteArray();
                        fleet.onText(this, message, 0, message.length);
                    }
                }
            }
            case Frames.PING -> {
                fleet.onServerPing();
                sendFrame(Frames.PONG, Arrays.copyOfRange(data, offset, offset + length));
            }
            case Frames.PONG -> {
                // the answer to a keepalive ping; hearing it was the point
            }
            case Frames.CLOSE -> {
                serverCloseCode = Frames.closeCode(data, offset, length);
                if (!closeSent) {
                    int echo = serverCloseCode == Frames.NO_STATUS ? Frames.NORMAL : serverCloseCode;
                    sendFrame(Frames.CLOSE, Frames.closePayload(echo, ""));
                    closeSent = true;
                }
                // The server closes TCP first (RFC 6455 §7.1.1); the fleet's tick ends a wait that lasts too long.
                state = State.CLOSING;
                stateSinceNanos = System.nanoTime();
            }
            default -> fail("unknown opcode " + header.opcode());
        }
    }

    private void fail(@Nullable String error) {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        stateSinceNanos = System.nanoTime();
        carry = null;
        outbox = null;
        fragments = null;
        SelectionKey registered = key;
        if (registered != null) {
            registered.cancel();
        }
        SocketChannel open = channel;
        if (open != null) {
            try {
                open.close();
            } catch (IOException ignored) {
                // closing is all that was left to do with it
            }
        }
        key = null;
        channel = null;
        fleet.onClosed(this, error);
    }

    private SocketChannel requireChannel() {
        SocketChannel open = channel;
        if (open == null) {
            throw new IllegalStateException("socket " + index + " has no channel in state " + state);
        }
        return open;
    }

    private SelectionKey requireKey() {
        SelectionKey registered = key;
        if (registered == null) {
            throw new IllegalStateException("socket " + index + " has no selection key in state " + state);
        }
        return registered;
    }

    private static int indexOf(byte[] data, int length, byte[] pattern) {
        outer:
        for (int i = 0; i <= length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
