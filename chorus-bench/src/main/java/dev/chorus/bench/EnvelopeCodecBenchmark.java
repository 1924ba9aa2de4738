package dev.chorus.bench;

import dev.chorus.ReplicaId;
import dev.chorus.Secret;
import dev.chorus.wire.DecodeResult;
import dev.chorus.wire.Envelope;
import dev.chorus.wire.EnvelopeCodec;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Encoding and decoding one envelope with a 64-byte payload, unsigned and HMAC-SHA256 signed. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class EnvelopeCodecBenchmark {

    private static final String CLUSTER = "bench";

    // Placeholders so no field is ever null; setup() builds what is measured.
    private EnvelopeCodec unsigned = EnvelopeCodec.forCluster(CLUSTER);
    private EnvelopeCodec signed = unsigned;
    private Envelope envelope = sample();
    private byte[] unsignedBytes = new byte[0];
    private byte[] signedBytes = new byte[0];

    /** Builds both codecs and the encoded forms that the decode benchmarks read. */
    @Setup
    public void setup() {
        unsigned = EnvelopeCodec.forCluster(CLUSTER);
        signed = EnvelopeCodec.builder(CLUSTER)
                .secret(new Secret("0123456789abcdef0123"))
                .build();
        envelope = sample();
        unsignedBytes = unsigned.encode(envelope);
        signedBytes = signed.encode(envelope);
        if (!unsigned.decode(unsignedBytes).isDecoded()
                || !signed.decode(signedBytes).isDecoded()) {
            throw new IllegalStateException("the sample envelope does not round-trip");
        }
    }

    private static Envelope sample() {
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                CLUSTER,
                ReplicaId.random("bench-1"),
                1,
                42,
                Instant.now(),
                "bench.codec",
                Map.of(),
                Payloads.stamped(System.nanoTime()));
    }

    /** Encodes without a signature. */
    @Benchmark
    public byte[] encodeUnsigned() {
        return unsigned.encode(envelope);
    }

    /** Encodes and signs. */
    @Benchmark
    public byte[] encodeSigned() {
        return signed.encode(envelope);
    }

    /** Decodes an unsigned envelope. */
    @Benchmark
    public DecodeResult decodeUnsigned() {
        return unsigned.decode(unsignedBytes);
    }

    /** Checks the signature and decodes. */
    @Benchmark
    public DecodeResult decodeSigned() {
        return signed.decode(signedBytes);
    }
}
