package dev.chorus.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.List;
import org.jspecify.annotations.Nullable;

/** One RESP2 reply as read by {@link RespClient}; the accessors throw if the reply has another type. */
public sealed interface RespReply {

    /** The text of a simple string or bulk string reply, decoded as UTF-8. */
    default String asString() {
        return switch (this) {
            case SimpleString simple -> simple.value();
            case BulkString bulk when bulk.bytes() != null -> new String(bulk.bytes(), UTF_8);
            default -> throw unexpected("a string");
        };
    }

    /** The value of an integer reply. */
    default long asLong() {
        if (this instanceof IntegerReply integer) {
            return integer.value();
        }
        throw unexpected("an integer");
    }

    /** The elements of a non-null array reply. */
    default List<RespReply> asList() {
        if (this instanceof ArrayReply array && array.items() != null) {
            return array.items();
        }
        throw unexpected("an array");
    }

    default boolean isError() {
        return this instanceof ErrorReply;
    }

    /** True for the null bulk string and the null array. */
    default boolean isNull() {
        return (this instanceof BulkString bulk && bulk.bytes() == null)
                || (this instanceof ArrayReply array && array.items() == null);
    }

    private IllegalStateException unexpected(String wanted) {
        return new IllegalStateException("expected " + wanted + " reply but got " + this);
    }

    /** {@code +OK}. */
    record SimpleString(String value) implements RespReply {}

    /** {@code -ERR message}; the message includes the error code. */
    record ErrorReply(String message) implements RespReply {}

    /** {@code :42}. */
    record IntegerReply(long value) implements RespReply {}

    /** {@code $3 abc}, or the null bulk string when {@code bytes} is null. */
    record BulkString(byte @Nullable [] bytes) implements RespReply {
        @Override
        public String toString() {
            return bytes == null ? "BulkString[null]" : "BulkString[" + new String(bytes, UTF_8) + "]";
        }
    }

    /** {@code *2 ...}, or the null array when {@code items} is null. */
    record ArrayReply(@Nullable List<RespReply> items) implements RespReply {}
}
