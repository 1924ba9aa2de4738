package dev.chorus;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The version of Chorus on the class path, as built by Maven; replicas advertise it to each other. */
public final class ChorusVersion {

    private static final String VERSION = load();

    private ChorusVersion() {}

    /** The version, for example {@code 0.1.0-SNAPSHOT}; {@code dev} when run from unfiltered sources. */
    public static String current() {
        return VERSION;
    }

    /**
     * Whether two versions can share a cluster: same major and minor version (the wire format changes only
     * with a minor version, and every replica speaks the format of its own minor).
     */
    public static boolean compatible(String a, String b) {
        return majorMinor(a).equals(majorMinor(b));
    }

    private static String majorMinor(String version) {
        String[] parts = version.split("[.-]");
        return parts.length >= 2 ? parts[0] + "." + parts[1] : version;
    }

    private static String load() {
        try (InputStream in = ChorusVersion.class.getResourceAsStream("chorus-version.properties")) {
            if (in == null) {
                return "dev";
            }
            Properties properties = new Properties();
            properties.load(in);
            String version = properties.getProperty("version", "dev");
            return version.startsWith("${") ? "dev" : version;
        } catch (IOException e) {
            return "dev";
        }
    }
}
