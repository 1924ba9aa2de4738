package dev.chorus.postgres;

import dev.chorus.ChorusException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/*
 * The LISTEN connection (vertx-pg-client) must meet the server exactly as the pgjdbc pool does, or a
 * DATABASE_URL that works for JDBC leaves the listener in plaintext or unable to connect. pgjdbc's rules:
 *
 *   sslmode   absent: "prefer", unless ssl=true (then "verify-full"). disable | allow | prefer | require
 *             encrypt (when the server agrees) WITHOUT checking the certificate - unlike libpq, pgjdbc's
 *             require never verifies. verify-ca checks the chain; verify-full also the host name.
 *   sslrootcert  the CA file for verify-*; default ~/.postgresql/root.crt.
 *   sslcert / sslkey  the client certificate and key, sent when present; defaults
 *             ~/.postgresql/postgresql.crt and ~/.postgresql/postgresql.pk8. Keys may be PEM, DER PKCS#8
 *             (pgjdbc's .pk8) or PKCS#12 (.p12/.pfx, with sslpassword).
 * Not supported on the listener: sslfactory (a pgjdbc class) and encrypted PEM/DER keys; both are refused
 * with a message rather than ignored.
 */

/** Applies the TLS parameters of a {@code DATABASE_URL} to the listener's connection, as pgjdbc reads them. */
final class ListenerTls {

    private ListenerTls() {}

    /** Sets the TLS mode and options of {@code options} from {@code parameters}. */
    static void apply(PgConnectOptions options, Map<String, String> parameters, Path home) {
        if (parameters.containsKey("sslfactory")) {
            throw new ChorusException("DATABASE_URL sets sslfactory=" + parameters.get("sslfactory") + ", a pgjdbc"
                    + " class the LISTEN connection cannot use. Use sslmode=verify-full with sslrootcert=<CA file>"
                    + " (and sslcert/sslkey for a client certificate) instead.");
        }
        SslMode mode = mode(parameters);
        options.setSslMode(mode);
        if (mode == SslMode.DISABLE) {
            return;
        }
        Path postgresql = home.resolve(".postgresql");
        ClientSSLOptions ssl = new ClientSSLOptions();
        boolean verify = mode == SslMode.VERIFY_CA || mode == SslMode.VERIFY_FULL;
        if (verify) {
            Path root = file(parameters, "sslrootcert", postgresql.resolve("root.crt"));
            if (!Files.isReadable(root)) {
                throw new ChorusException("sslmode=" + mode.value + " needs the CA certificate that signed the"
                        + " server's certificate, but " + root + " is not readable: set sslrootcert=<path to a PEM"
                        + " file> in DATABASE_URL");
            }
            ssl.setTrustOptions(new PemTrustOptions().addCertValue(pem(root, "CERTIFICATE", "sslrootcert")));
            // "HTTPS" is RFC 2818 host name checking against the SANs (IP addresses too); "" turns it off.
            ssl.setHostnameVerificationAlgorithm(mode == SslMode.VERIFY_FULL ? "HTTPS" : "");
        } else {
            ssl.setTrustAll(true);
            ssl.setHostnameVerificationAlgorithm("");
        }
        Path cert = file(parameters, "sslcert", postgresql.resolve("postgresql.crt"));
        Path key = file(parameters, "sslkey", postgresql.resolve("postgresql.pk8"));
        String lowerKey = key.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isReadable(key) && (lowerKey.endsWith(".p12") || lowerKey.endsWith(".pfx"))) {
            ssl.setKeyCertOptions(new PfxOptions().setPath(key.toString()).setPassword(parameters.get("sslpassword")));
        } else if (Files.isReadable(cert) && Files.isReadable(key)) {
            ssl.setKeyCertOptions(new PemKeyCertOptions()
                    .setCertValue(pem(cert, "CERTIFICATE", "sslcert"))
                    .setKeyValue(pem(key, "PRIVATE KEY", "sslkey")));
        } else if (parameters.containsKey("sslcert") || parameters.containsKey("sslkey")) {
            throw new ChorusException("DATABASE_URL names a client certificate, but " + cert + " or " + key
                    + " is not readable: set sslcert=<PEM certificate> and sslkey=<PEM, DER PKCS#8 or .p12 key>");
        }
        options.setSslOptions(ssl);
    }

    /** The mode pgjdbc would use for {@code parameters}. */
    static SslMode mode(Map<String, String> parameters) {
        String value = parameters.get("sslmode");
        if (value == null || value.isEmpty()) {
            return "true".equalsIgnoreCase(parameters.get("ssl")) || "".equals(parameters.get("ssl"))
                    ? SslMode.VERIFY_FULL
                    : SslMode.PREFER;
        }
        String normal = value.toLowerCase(Locale.ROOT).replace('_', '-');
        for (SslMode mode : SslMode.values()) {
            if (mode.value.equals(normal)) {
                return mode;
            }
        }
        throw new ChorusException("Invalid sslmode '" + value + "' in DATABASE_URL: use disable, allow, prefer,"
                + " require, verify-ca or verify-full");
    }

    private static Path file(Map<String, String> parameters, String name, Path fallback) {
        String value = parameters.get(name);
        return value == null || value.isEmpty() ? fallback : Path.of(value);
    }

    /** The file as PEM: PEM files as they are, DER (pgjdbc's .pk8 keys, .der certificates) wrapped. */
    private static Buffer pem(Path path, String type, String parameter) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new ChorusException("Cannot read " + parameter + " " + path + ": " + e.getMessage(), e);
        }
        String text = new String(bytes, StandardCharsets.US_ASCII);
        if (text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")) {
            throw new ChorusException(parameter + " " + path + " is encrypted, which the LISTEN connection cannot"
                    + " read: decrypt it (openssl pkcs8 -topk8 -nocrypt) or use a .p12 file with sslpassword");
        }
        if (text.contains("-----BEGIN")) {
            return Buffer.buffer(bytes);
        }
        return Buffer.buffer("-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(bytes) + "\n-----END " + type
                + "-----\n");
    }

    /** A hint for a failed TLS handshake, or null when {@code failure} is not one. */
    static @Nullable String hint(Throwable failure, Map<String, String> parameters) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            // Vert.x reports a refused certificate as a bare "SSL handshake failed", without the cause.
            String message = t.getMessage() == null ? "" : t.getMessage();
            if (t instanceof javax.net.ssl.SSLException
                    || t instanceof java.security.cert.CertificateException
                    || message.contains("SSL handshake")) {
                return "TLS failed with sslmode=" + mode(parameters).value + ": check that sslrootcert names the CA"
                        + " that signed the server's certificate and, for verify-full, that the host in DATABASE_URL"
                        + " is among the certificate's names";
            }
        }
        return null;
    }
}
