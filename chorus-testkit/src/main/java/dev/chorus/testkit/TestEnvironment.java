package dev.chorus.testkit;

import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/** The one place the testkit reads its switches, plus the naming rules for isolated resources. */
final class TestEnvironment {

    static final String EMBEDDED_KEY = "CHORUS_TEST_EMBEDDED";

    /**
     * System properties win so that a build can override a developer's shell. This reads the process environment
     * directly because test fixtures cannot depend on chorus-core's {@code ChorusConfig}.
     */
    static final Function<String, @Nullable String> SYSTEM = TestEnvironment::fromSystem;

    private TestEnvironment() {}

    static boolean forceEmbedded(Function<String, @Nullable String> lookup) {
        return "true".equalsIgnoreCase(lookup.apply(EMBEDDED_KEY));
    }

    private static @Nullable String fromSystem(String key) {
        String value = System.getProperty(key);
        if (value == null || value.isBlank()) {
            value = System.getenv(key);
        }
        return value == null || value.isBlank() ? null : value.trim();
    }

    /** Lower-case letters, digits and single underscores, so the result is a valid unquoted SQL identifier part. */
    static String sanitize(String hint, int maxLength) {
        String cleaned =
                hint.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
        if (cleaned.length() > maxLength) {
            cleaned = cleaned.substring(0, maxLength).replaceAll("_+$", "");
        }
        return cleaned.isEmpty() ? "x" : cleaned;
    }

    /** 32 random bits: enough that parallel test JVMs sharing one server do not collide. */
    static String randomSuffix() {
        return String.format(Locale.ROOT, "%08x", ThreadLocalRandom.current().nextInt());
    }
}
