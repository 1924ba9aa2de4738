package dev.chorus.redis;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.function.IntSupplier;
import java.util.function.LongConsumer;

/*
 * Why: Lettuce reads a bulk string whole into its receive buffer before decoding it, growing the buffer to
 * whatever length the header announces. On the subscription, that length comes from whoever PUBLISHes: a 64 MiB
 * message costs every replica 64 MiB (and more while the buffer grows), and a few of them exhaust a small heap.
 * Redis's client-output-buffer-limit pubsub (32 MiB hard by default) is the only bound on its side.
 *
 * This handler sits before Lettuce's on a subscription channel and reads the RESP2 stream as it passes, without
 * consuming or copying it: type byte, header line, then the announced number of bytes skipped. A bulk string
 * announced longer than the largest frame the backplane accepts closes the connection at once, before Lettuce
 * buffers it; the backplane counts the rejection and subscribes again (a reconnect, reported to subscribers as
 * Missed). Everything after the trip is dropped unread.
 *
 * Invariants: the state survives any split of the stream into reads; a header number is accumulated only while it
 * is at most the limit (more digits mark it too large, so no overflow); arrays, integers, simple strings and errors
 * pass through untouched.
 */

/** Closes a subscription connection whose next bulk string is announced longer than any accepted frame. */
final class RespBulkGuard extends ChannelInboundHandlerAdapter {

    private enum State {
        TYPE,
        HEADER,
        BODY
    }

    private final IntSupplier limit;
    private final LongConsumer onTooLarge;
    private State state = State.TYPE;
    private boolean bulk;
    private boolean negative;
    private boolean tooLarge;
    private long number;
    private long remaining;
    private boolean tripped;

    /** A guard allowing bulk strings of at most {@code limit} bytes, telling {@code onTooLarge} the size of one more. */
    RespBulkGuard(IntSupplier limit, LongConsumer onTooLarge) {
        this.limit = limit;
        this.onTooLarge = onTooLarge;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (tripped) {
            release(msg);
            return;
        }
        if (msg instanceof ByteBuf buffer && !scan(buffer)) {
            tripped = true;
            buffer.release();
            onTooLarge.accept(number);
            ctx.close();
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** Walks the readable bytes without moving the reader index; false once a bulk string is too large. */
    private boolean scan(ByteBuf buffer) {
        int at = buffer.readerIndex();
        int end = buffer.writerIndex();
        while (at < end) {
            switch (state) {
                case TYPE -> {
                    byte type = buffer.getByte(at++);
                    bulk = type == '$';
                    negative = false;
                    tooLarge = false;
                    number = 0;
                    state = State.HEADER;
                }
                case HEADER -> {
                    byte b = buffer.getByte(at++);
                    if (b == '\n') {
                        if (bulk && !negative && (tooLarge || number > limit.getAsInt())) {
                            return false;
                        }
                        if (bulk && !negative) {
                            remaining = number + 2; // the body and its CRLF
                            state = remaining > 0 ? State.BODY : State.TYPE;
                        } else {
                            state = State.TYPE;
                        }
                    } else if (b == '-') {
                        negative = true;
                    } else if (b >= '0' && b <= '9' && !tooLarge) {
                        number = number * 10 + (b - '0');
                        tooLarge = number > Integer.MAX_VALUE;
                    }
                }
                case BODY -> {
                    int skip = (int) Math.min(remaining, end - at);
                    at += skip;
                    remaining -= skip;
                    if (remaining == 0) {
                        state = State.TYPE;
                    }
                }
            }
        }
        return true;
    }

    private static void release(Object msg) {
        if (msg instanceof ByteBuf buffer) {
            buffer.release();
        }
    }
}
