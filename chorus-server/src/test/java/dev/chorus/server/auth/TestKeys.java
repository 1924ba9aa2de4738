package dev.chorus.server.auth;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/** Keys, PEM files and a settable clock shared by the auth tests; key generation is slow, so keys are reused. */
final class TestKeys {

    /** Generated once per test JVM: 2048-bit generation takes a noticeable fraction of a second. */
    static final KeyPair RSA_A = generate("RSA", 2048);

    static final KeyPair RSA_B = generate("RSA", 2048);

    private TestKeys() {}

    static KeyPair generate(String algorithm, int bits) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            generator.initialize(bits);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A committed test-only key made with openssl, so our PEM reader is checked against another encoder. */
    static String resource(String name) {
        try (InputStream in =
                Objects.requireNonNull(TestKeys.class.getResourceAsStream("/auth/" + name), "missing " + name)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Function<String, @Nullable String> env(Map<String, String> values) {
        return values::get;
    }

    /** A clock the test moves by hand instead of sleeping. */
    static final class MutableClock extends Clock {
        private Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration duration) {
            now = now.plus(duration);
        }

        void set(Instant instant) {
            now = instant;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException("tests use UTC");
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
