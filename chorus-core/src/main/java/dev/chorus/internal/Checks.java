package dev.chorus.internal;

import dev.chorus.ChorusException;
import java.time.Duration;
import java.util.Objects;

/** Argument checks shared by the transports' builders, with messages that name the setting. */
public final class Checks {

    private Checks() {}

    /** {@code value} if it is longer than zero; otherwise a {@link ChorusException} naming {@code name}. */
    public static Duration positive(String name, Duration value) {
        Objects.requireNonNull(value, name);
        if (value.isNegative() || value.isZero()) {
            throw new ChorusException(name + " must be positive, was " + value);
        }
        return value;
    }

    /** {@code value} if it is at least 1; otherwise a {@link ChorusException} naming {@code name}. */
    public static int positive(String name, int value) {
        if (value < 1) {
            throw new ChorusException(name + " must be positive, was " + value);
        }
        return value;
    }

    /** {@code value} if it is at least 1; otherwise a {@link ChorusException} naming {@code name}. */
    public static long positive(String name, long value) {
        if (value < 1) {
            throw new ChorusException(name + " must be positive, was " + value);
        }
        return value;
    }
}
