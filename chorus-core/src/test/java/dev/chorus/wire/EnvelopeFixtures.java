package dev.chorus.wire;

import dev.chorus.ReplicaId;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** Envelopes for codec tests. */
final class EnvelopeFixtures {

    static final ReplicaId ORIGIN = ReplicaId.of(UUID.fromString("6f1c2c1e-0d5a-4c36-9d0e-2f3a4b5c6d7e"), "api-1");

    private EnvelopeFixtures() {}

    static Envelope sample(String cluster, byte[] payload) {
        return Envelope.of(
                Envelope.Kind.MESSAGE,
                cluster,
                ORIGIN,
                1_700_000_000_000L,
                42,
                Instant.parse("2026-11-21T10:15:30.123456Z"),
                "cache.users",
                Map.of("content-type", "application/json", "trace", "abc"),
                payload);
    }
}
