package dev.chorus.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** The benchmark payload: 64 bytes whose first 8 hold {@link System#nanoTime()} at publish. */
final class Payloads {

    /** Payload size in bytes. */
    static final int SIZE = 64;

    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private Payloads() {}

    /** A fresh payload stamped with {@code publishNanos}. */
    static byte[] stamped(long publishNanos) {
        byte[] payload = new byte[SIZE];
        LONG.set(payload, 0, publishNanos);
        return payload;
    }

    /** The publish time stamped in {@code payload}. */
    static long publishedNanos(byte[] payload) {
        return (long) LONG.get(payload, 0);
    }
}
