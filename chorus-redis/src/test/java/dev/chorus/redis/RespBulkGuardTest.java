package dev.chorus.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The subscription's length guard reads RESP2 split anywhere, passes what fits and trips on what does not. */
class RespBulkGuardTest {

    private static final int LIMIT = 1_000;

    private final List<Long> tooLarge = new ArrayList<>();

    @Test
    void replies_withinTheLimit_passUnchanged_howeverTheStreamIsSplit() {
        byte[] stream = concat(
                message("t:bp", new byte[LIMIT]),
                "*2\r\n$4\r\npong\r\n$0\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                "*3\r\n$9\r\nsubscribe\r\n$4\r\nt:bp\r\n:1\r\n".getBytes(StandardCharsets.US_ASCII),
                "$-1\r\n*-1\r\n+OK\r\n-ERR no\r\n".getBytes(StandardCharsets.US_ASCII),
                message("t:bp", "\r\n$99999999999\r\n".getBytes(StandardCharsets.US_ASCII)),
                message("t:bp", new byte[0]));
        Random random = new Random(20);
        for (int run = 0; run < 200; run++) {
            EmbeddedChannel channel = guarded();
            for (byte[] piece : split(stream, random)) {
                channel.writeInbound(Unpooled.wrappedBuffer(piece));
            }
            assertThat(read(channel)).isEqualTo(stream);
            assertThat(channel.isOpen()).isTrue();
        }
        assertThat(tooLarge).isEmpty();
    }

    @Test
    void bulkString_longerThanTheLimit_closesOnItsHeader() {
        Random random = new Random(7);
        byte[] stream = concat(
                message("t:bp", new byte[10]),
                "*3\r\n$7\r\nmessage\r\n$4\r\nt:bp\r\n$67108864\r\nCB-and-more".getBytes(StandardCharsets.US_ASCII));
        for (int run = 0; run < 50; run++) {
            tooLarge.clear();
            EmbeddedChannel channel = guarded();
            List<ByteBuf> pieces = new ArrayList<>();
            for (byte[] piece : split(stream, random)) {
                if (channel.isOpen()) {
                    ByteBuf buffer = Unpooled.wrappedBuffer(piece);
                    pieces.add(buffer);
                    channel.writeInbound(buffer);
                }
            }

            assertThat(tooLarge).containsExactly(67_108_864L);
            assertThat(channel.isOpen()).isFalse();
            // Reads before the one that ended the header went on; that one was released, not passed.
            assertThat(read(channel).length).isLessThan(stream.length - 2);
            assertThat(pieces).allMatch(piece -> piece.refCnt() == 0);
        }
    }

    @Test
    void announcedLength_beyondALong_tripsWithoutOverflow() {
        EmbeddedChannel channel = guarded();
        channel.writeInbound(
                Unpooled.wrappedBuffer("$99999999999999999999999999999\r\n".getBytes(StandardCharsets.US_ASCII)));

        assertThat(tooLarge).hasSize(1);
        assertThat(tooLarge.get(0)).isGreaterThan(Integer.MAX_VALUE);
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void lengthOf0x7fffffff_trips() {
        EmbeddedChannel channel = guarded();
        channel.writeInbound(Unpooled.wrappedBuffer("$2147483647\r\n".getBytes(StandardCharsets.US_ASCII)));

        assertThat(tooLarge).containsExactly(2_147_483_647L);
        assertThat(channel.isOpen()).isFalse();
    }

    private EmbeddedChannel guarded() {
        return new EmbeddedChannel(new RespBulkGuard(() -> LIMIT, tooLarge::add));
    }

    private static byte[] message(String channel, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(
                ("*3\r\n$7\r\nmessage\r\n$" + channel.length() + "\r\n" + channel + "\r\n$" + payload.length + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(payload);
        out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static List<byte[]> split(byte[] stream, Random random) {
        List<byte[]> pieces = new ArrayList<>();
        int at = 0;
        while (at < stream.length) {
            int length = Math.min(stream.length - at, 1 + random.nextInt(random.nextBoolean() ? 3 : 400));
            byte[] piece = new byte[length];
            System.arraycopy(stream, at, piece, 0, length);
            pieces.add(piece);
            at += length;
        }
        return pieces;
    }

    private static byte[] read(EmbeddedChannel channel) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuf buffer;
        while ((buffer = channel.readInbound()) != null) {
            byte[] bytes = new byte[buffer.readableBytes()];
            buffer.readBytes(bytes);
            buffer.release();
            out.writeBytes(bytes);
        }
        return out.toByteArray();
    }
}
