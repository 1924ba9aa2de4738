package dev.chorus;

/** A configuration value is missing or invalid; the message names the variable, the value and an example. */
public final class ConfigurationException extends ChorusException {

    private final String variable;

    /** Rejects {@code variable}; {@code message} must already name the bad value and a valid example. */
    public ConfigurationException(String variable, String message) {
        super(message);
        this.variable = variable;
    }

    /** The configuration variable that was rejected, for example {@code CHORUS_BACKPLANE}. */
    public String variable() {
        return variable;
    }
}
