package dev.chorus.server.auth;

import static dev.chorus.server.auth.TestKeys.env;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.chorus.ConfigurationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.interfaces.RSAPublicKey;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class SigningKeyTest {

    private static final String PKCS8 = TestKeys.resource("test-only-rsa-2048-pkcs8.pem");
    private static final String PKCS1 = TestKeys.resource("test-only-rsa-2048-pkcs1.pem");

    @Test
    void pkcs8Pem_roundTripsThroughToPem() {
        SigningKey direct = SigningKey.of(TestKeys.RSA_A);

        SigningKey read = SigningKey.fromEnvironment(
                env(Map.of(SigningKey.PRIVATE_KEY, SigningKey.toPem(TestKeys.RSA_A.getPrivate()))));

        assertThat(read.fingerprint()).isEqualTo(direct.fingerprint());
        assertThat(read.publicKey()).isEqualTo(TestKeys.RSA_A.getPublic());
        assertThat(read.generated()).isFalse();
    }

    @Test
    void pkcs1AndPkcs8FilesMadeByOpenssl_areTheSameKey() {
        SigningKey fromPkcs1 = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PKCS1)));
        SigningKey fromPkcs8 = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PKCS8)));

        assertThat(PKCS1).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        assertThat(fromPkcs1.fingerprint()).isEqualTo(fromPkcs8.fingerprint());
        assertThat(fromPkcs1.publicKey().getModulus().bitLength()).isEqualTo(2048);
    }

    @Test
    void escapedNewlines_quotesAndSurroundingText_areTolerated() {
        String escaped = PKCS1.strip().replace("\n", "\\n");
        String quoted = "\"" + PKCS8.strip().replace("\n", "\\n") + "\"";
        String withCertificateFirst =
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + PKCS8 + "trailing text\n";
        String expected = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PKCS8)))
                .fingerprint();

        for (String value : List.of(escaped, quoted, withCertificateFirst, PKCS8.replace("\n", "\r\n"))) {
            assertThat(SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, value)))
                            .fingerprint())
                    .isEqualTo(expected);
        }
    }

    @Test
    void file_isRead(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("key.pem");
        Files.writeString(file, PKCS1, StandardCharsets.US_ASCII);

        SigningKey key = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY_FILE, file.toString())));

        assertThat(key.fingerprint())
                .isEqualTo(SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PKCS8)))
                        .fingerprint());
    }

    @Test
    void bothVariables_areRefusedNamingBoth() {
        assertThatThrownBy(() -> SigningKey.fromEnvironment(
                        env(Map.of(SigningKey.PRIVATE_KEY, PKCS8, SigningKey.PRIVATE_KEY_FILE, "/tmp/key.pem"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_JWT_PRIVATE_KEY and CHORUS_JWT_PRIVATE_KEY_FILE are both set");
    }

    @Test
    void badKeys_areRefusedNamingTheVariableAndTheFix_withoutKeyMaterial() {
        String body = PKCS8.lines().skip(1).findFirst().orElseThrow();
        Map<String, String> cases = Map.of(
                "not a key at all",
                "is not PEM text",
                PKCS8.replace(body, body.substring(0, 10) + "!!!" + body.substring(13)),
                "is not valid PEM",
                PKCS8.replace(body, body.substring(0, 40)),
                "is not a valid RSA private key",
                SigningKey.toPem(TestKeys.generate("EC", 256).getPrivate()),
                "key of type EC",
                SigningKey.toPem(TestKeys.generate("RSA", 1024).getPrivate()),
                "is a 1024-bit RSA key",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                "but no private key",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                "is an encrypted private key",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
                "key of type OPENSSH");

        cases.forEach((value, reason) -> {
            ConfigurationException e = catchConfig(Map.of(SigningKey.PRIVATE_KEY, value));
            assertThat(e.variable()).isEqualTo(SigningKey.PRIVATE_KEY);
            assertThat(e.getMessage())
                    .startsWith("CHORUS_JWT_PRIVATE_KEY ")
                    .contains(reason)
                    .contains("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
                    .doesNotContain(body.substring(0, 16))
                    .doesNotContain("AAAA");
        });
    }

    @Test
    void badFiles_areRefusedNamingTheFileVariable(@TempDir Path dir) throws IOException {
        Path der = dir.resolve("key.der");
        Files.write(der, TestKeys.RSA_A.getPrivate().getEncoded());

        ConfigurationException missing = catchConfig(
                Map.of(SigningKey.PRIVATE_KEY_FILE, dir.resolve("absent.pem").toString()));
        ConfigurationException binary = catchConfig(Map.of(SigningKey.PRIVATE_KEY_FILE, der.toString()));

        assertThat(missing.variable()).isEqualTo(SigningKey.PRIVATE_KEY_FILE);
        assertThat(missing).hasMessageContaining("CHORUS_JWT_PRIVATE_KEY_FILE=").hasMessageContaining("does not exist");
        assertThat(binary.variable()).isEqualTo(SigningKey.PRIVATE_KEY_FILE);
        assertThat(binary)
                .hasMessageContaining("the file CHORUS_JWT_PRIVATE_KEY_FILE='" + der + "' is not PEM text")
                .hasMessageContaining("Point CHORUS_JWT_PRIVATE_KEY_FILE at a PEM file");
    }

    @Test
    void corruptedCrtParameters_areRefusedAtStartup() {
        // Flip one byte near the end of the DER, inside the CRT coefficient: still parses, signs wrongly.
        byte[] der = TestKeys.RSA_A.getPrivate().getEncoded();
        der[der.length - 5] ^= 0x01;
        String pem = "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(der)
                + "\n-----END PRIVATE KEY-----\n";

        assertThat(catchConfig(Map.of(SigningKey.PRIVATE_KEY, pem))).hasMessageContaining("corrupted RSA key");
    }

    @Test
    void neitherVariable_generatesAKeyAndWarnsOnce() {
        Logger logger = (Logger) LoggerFactory.getLogger(SigningKey.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            SigningKey key = SigningKey.fromEnvironment(env(Map.of()));

            assertThat(key.generated()).isTrue();
            assertThat(key.publicKey().getModulus().bitLength()).isEqualTo(2048);
            assertThat(appender.list).hasSize(1);
            ILoggingEvent warning = appender.list.get(0);
            assertThat(warning.getLevel()).isEqualTo(Level.WARN);
            assertThat(warning.getFormattedMessage())
                    .contains("will not validate on other replicas")
                    .contains("set CHORUS_JWT_PRIVATE_KEY or CHORUS_JWT_PRIVATE_KEY_FILE with the same key on every"
                            + " replica")
                    .contains(key.keyId());
        } finally {
            logger.detachAppender(appender);
        }
    }

    @Test
    void keyId_isTheRfc7638Thumbprint() throws Exception {
        RSAPublicKey pub = (RSAPublicKey) TestKeys.RSA_A.getPublic();
        // RFC 7638 section 3: the required members in lexicographic order, no whitespace.
        String canonical = "{\"e\":\"" + unsigned(pub.getPublicExponent().toByteArray()) + "\",\"kty\":\"RSA\",\"n\":\""
                + unsigned(pub.getModulus().toByteArray()) + "\"}";
        String expected = Base64.getUrlEncoder()
                .withoutPadding()
                .encodeToString(
                        MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8)));

        SigningKey key = SigningKey.of(TestKeys.RSA_A);

        assertThat(key.keyId()).isEqualTo(expected);
        assertThat(key.fingerprint()).isEqualTo(expected);
        assertThat(SigningKey.of(TestKeys.RSA_B).keyId()).isNotEqualTo(expected);
    }

    @Test
    void jwks_holdsOnlyThePublicParameters() {
        SigningKey key = SigningKey.of(TestKeys.RSA_A);

        Map<String, Object> jwks = key.jwks();

        assertThat(jwks).containsOnlyKeys("keys");
        assertThat(jwks.get("keys"))
                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.LIST)
                .hasSize(1);
        @SuppressWarnings("unchecked")
        Map<String, Object> jwk = ((List<Map<String, Object>>) jwks.get("keys")).get(0);
        assertThat(jwk).containsOnlyKeys("kty", "n", "e", "kid", "use", "alg");
        assertThat(jwk)
                .containsEntry("kty", "RSA")
                .containsEntry("kid", key.keyId())
                .containsEntry("use", "sig")
                .containsEntry("alg", "RS256")
                .containsEntry("e", "AQAB");
    }

    @Test
    void toString_andOf_revealNoKeyMaterial() {
        SigningKey key = SigningKey.of(TestKeys.RSA_A);
        String pemBody = SigningKey.toPem(TestKeys.RSA_A.getPrivate())
                .lines()
                .skip(1)
                .findFirst()
                .orElseThrow();

        assertThat(key.toString()).contains(key.keyId()).doesNotContain(pemBody.substring(0, 16));
        assertThatThrownBy(() -> SigningKey.of(TestKeys.generate("RSA", 1024)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 2048 bits");
        KeyPair ec = TestKeys.generate("EC", 256);
        assertThatThrownBy(() -> SigningKey.of(ec)).hasMessageContaining("RSA key pair");
    }

    private static ConfigurationException catchConfig(Map<String, String> values) {
        try {
            SigningKey.fromEnvironment(env(values));
        } catch (ConfigurationException e) {
            return e;
        }
        throw new AssertionError("expected a ConfigurationException for " + values.keySet());
    }

    private static String unsigned(byte[] twosComplement) {
        int skip = twosComplement.length > 1 && twosComplement[0] == 0 ? 1 : 0;
        byte[] magnitude = java.util.Arrays.copyOfRange(twosComplement, skip, twosComplement.length);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(magnitude);
    }
}
