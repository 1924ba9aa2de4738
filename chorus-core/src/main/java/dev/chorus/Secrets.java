package dev.chorus;

import java.util.regex.Pattern;

/** Helpers that keep passwords out of logs. */
public final class Secrets {

    // user:password@ or :password@ in the authority part of a URL.
    private static final Pattern USERINFO_PASSWORD = Pattern.compile("(://[^/@:]*:)([^/@]*)(@)");
    private static final Pattern QUERY_PASSWORD =
            Pattern.compile("((?:^|[?&;])(?:password|pass|pwd|secret)=)([^&;]*)", Pattern.CASE_INSENSITIVE);

    private Secrets() {}

    /**
     * Replaces the password in a URL's user-info and in {@code password=} query parameters with {@code
     * ****}: {@code redis://user:pw@host:6379} becomes {@code redis://user:****@host:6379}.
     */
    public static String maskUrl(String url) {
        String masked = USERINFO_PASSWORD.matcher(url).replaceAll("$1****$3");
        return QUERY_PASSWORD.matcher(masked).replaceAll("$1****");
    }
}
